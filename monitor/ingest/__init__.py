"""Stage `poll`: the registry, polite fetching, hostile-feed parsing, article identity, feed health."""
