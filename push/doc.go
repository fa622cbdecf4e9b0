// Package push holds the push rules of the client-server API's push
// module as pure values and functions: the spec's default rule set, the
// merge of a user's stored rules with it, the edits the /pushrules
// endpoints make, and the evaluation of a ruleset against an event.
//
// It must stay pure: no storage, clock, network or HTTP. Callers pass the
// event JSON and the room facts a rule can ask about (member count, power
// levels), and store the rules wherever they keep account data.
package push
