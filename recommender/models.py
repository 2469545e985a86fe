"""What the recommender keeps between requests: the catalog's write counter, the TF-IDF vocabulary, and
ranked lists of similar films computed for one state of the catalog."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from pgvector.django import SparseVectorField

from catalog.models import Movie


class CatalogVersion(models.Model):
    """A single row counting the statements that changed the films or their features.

    Statement triggers on catalog_movie and FilmFeatures keep it (migration 0001), because films change through many
    paths (the importer's raw SQL, bulk updates, admin actions, the API) and a missed bump would serve
    similar lists that still show a hidden or deleted film. Each bump takes the next number of a sequence
    and writes it to this row: others see it only once the change it counts is committed, and a number is
    never used twice, even when a transaction that took one rolls back.
    """

    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"catalog version {self.version}"


class FilmFeatures(models.Model):
    """What the recommender derives for each film over the whole catalog.

    Its own table, not columns of the film: refreshing every film's figures after an import would otherwise
    rewrite every film row, and with it every entry of its HNSW, full-text and trigram indexes (minutes at
    34k films, against about a second here).
    """

    movie = models.OneToOneField(Movie, on_delete=models.CASCADE, primary_key=True, related_name="features")
    quality = models.FloatField(
        null=True,
        help_text="0..1: how well known and well rated the film is among the catalog's films (votes, rating, "
        "popularity). Breaks near-ties among similar films.",
    )
    # TF-IDF of the film's words, word pairs and names over the catalog (recommender.tfidf), for the tfidf
    # method: a sparse vector in the fitted vocabulary, L2-normalised, its strongest terms only.
    tfidf = SparseVectorField(null=True)

    class Meta:
        verbose_name_plural = "film features"

    def __str__(self) -> str:
        return f"features of film {self.movie_id}"


class TfidfVocabulary(models.Model):
    """The fitted TF-IDF vocabulary (term i is dimension i of FilmFeatures.tfidf) and each term's IDF."""

    terms = ArrayField(models.TextField())
    idf = ArrayField(models.FloatField())
    documents = models.PositiveIntegerField()
    fitted_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "TF-IDF vocabularies"

    def __str__(self) -> str:
        return f"{len(self.terms)} terms over {self.documents} films"


class SimilarList(models.Model):
    """One film's ranked similar films for a slow method, valid while the catalog version is unchanged."""

    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="+")
    method = models.CharField(max_length=16)
    options = models.CharField(max_length=100, help_text="The method's settings, e.g. 'C=0.1 prior=0.2'.")
    catalog_version = models.BigIntegerField()
    movie_ids = ArrayField(models.BigIntegerField())
    scores = ArrayField(models.FloatField())
    terms = models.JSONField(default=list, help_text="For tfidf: the top shared terms of each film.")
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["movie", "method", "options"], name="similar_list_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.method} ({self.options}) of film {self.movie_id}"


class CoLikedList(models.Model):
    """A film's most co-liked films from imported ratings (recommender.cf), refitted after ratings change.

    Only films liked by enough people have one; for the others similar films come from content alone.
    """

    movie = models.OneToOneField(Movie, on_delete=models.CASCADE, primary_key=True, related_name="co_liked")
    likers = models.PositiveIntegerField(help_text="How many people like the film (rated it 4 stars or more).")
    movie_ids = ArrayField(models.BigIntegerField(), help_text="The co-liked films, best first.")
    scores = ArrayField(models.FloatField())
    co_likers = ArrayField(models.IntegerField(), help_text="How many of the film's likers like each one too.")

    def __str__(self) -> str:
        return f"co-liked films of film {self.movie_id}"
