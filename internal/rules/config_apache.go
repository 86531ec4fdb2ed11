package rules

// apacheRules are the configuration rules for apache (KT8xx), in ID order.
var apacheRules = []Rule{}
