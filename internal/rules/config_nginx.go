package rules

// nginxRules are the configuration rules for nginx (KT8xx), in ID order.
var nginxRules = []Rule{}
