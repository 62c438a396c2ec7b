"""Story and story-cluster queries (owned by the news work, issue 3)."""


class StoryQueries:
    pass
