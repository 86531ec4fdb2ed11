package rules

// haproxyRules are the configuration rules for haproxy (KT8xx), in ID order.
var haproxyRules = []Rule{}
