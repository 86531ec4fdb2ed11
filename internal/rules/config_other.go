package rules

// otherRules are the configuration rules for the other formats (KT86x-KT89x: envoy, redis, postgres, pgbouncer, gunicorn, kubernetes), in ID order.
var otherRules = []Rule{}
