from django.db import migrations


class Migration(migrations.Migration):
    """A refit of the co-liked lists bumps the catalog version, like any change of the films: kept similar
    lists (and the caches keyed by the version) are computed again from the new lists."""

    dependencies = [("recommender", "0002_co_liked_lists")]

    operations = [
        migrations.RunSQL(
            sql="""
                CREATE TRIGGER co_liked_list_version
                    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON recommender_colikedlist
                    FOR EACH STATEMENT EXECUTE FUNCTION recommender_bump_catalog_version();
            """,
            reverse_sql="DROP TRIGGER IF EXISTS co_liked_list_version ON recommender_colikedlist;",
        ),
    ]
