// Package statem runs state machines with the semantics of Erlang/OTP's
// gen_statem: one goroutine per machine, a mailbox of calls, casts and
// infos, postponed events, inserted events, state enter calls and three
// kinds of time-outs, with OTP's ordering rules.
package statem
