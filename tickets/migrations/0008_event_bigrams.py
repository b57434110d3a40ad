# A word of a conversation finds its tickets (the queue's search): the messages' character bigrams under a
# GIN index. pg_trgm is not in every PostgreSQL build (the embedded one has no contrib), so the bigrams are
# an IMMUTABLE SQL function of the text; a search asks for the term's bigrams (@>) and rechecks the substring.
from django.db import migrations

FUNCTION = """
CREATE FUNCTION tickets_bigrams(t text) RETURNS text[] LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(DISTINCT substr(lower(t), i, 2)), '{}') FROM generate_series(1, length(t) - 1) AS i
$$
"""


class Migration(migrations.Migration):
    dependencies = [("tickets", "0007_return_requests")]

    operations = [
        migrations.RunSQL(FUNCTION, "DROP FUNCTION tickets_bigrams(text)"),
        migrations.RunSQL(
            "CREATE INDEX tickets_event_bigrams ON tickets_ticketevent USING gin (tickets_bigrams(body))"
            " WHERE kind = 'message'",
            "DROP INDEX tickets_event_bigrams",
        ),
    ]
