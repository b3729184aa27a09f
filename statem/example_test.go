package statem_test

import (
	"context"
	"fmt"

	"github.com/effusion-bt/effusion/statem"
)

// The Switch of the GenStateMachine documentation: a cast "flip" toggles
// between off and on, and counts how often it was turned on; a call
// "get_count" returns the count.

type switchState string

// Switch is the handle_event_function style: one method for all states.
type Switch struct{}

func (Switch) Init(context.Context) (switchState, int, []statem.Action, error) {
	return "off", 0, nil, nil
}

func (Switch) HandleEvent(_ context.Context, ev statem.Event, s switchState, count int) statem.Result[switchState, int] {
	switch {
	case ev.Type == statem.Cast && ev.Content == "flip" && s == "off":
		return statem.Next(switchState("on"), count+1)
	case ev.Type == statem.Cast && ev.Content == "flip" && s == "on":
		return statem.Next(switchState("off"), count)
	case ev.Type == statem.Call && ev.Content == "get_count":
		return statem.KeepAll[switchState, int](statem.Reply(ev.From, count))
	}
	return statem.Stop[switchState](fmt.Errorf("bad event %v", ev), count)
}

func Example() {
	ctx := context.Background()
	m, err := statem.Start(ctx, Switch{})
	if err != nil {
		panic(err)
	}
	m.Cast("flip")
	n, err := statem.CallAs[int](ctx, m, "get_count")
	fmt.Println(n, err)
	fmt.Println(m.Stop(ctx, nil))
	// Output:
	// 1 <nil>
	// <nil>
}

// The same Switch in the state_functions style: one function per state.
func Example_stateFunctions() {
	type D = int
	type R = statem.Result[string, D]
	getCount := func(ev statem.Event, count D) R {
		if ev.Type == statem.Call && ev.Content == "get_count" {
			return statem.KeepAll[string, D](statem.Reply(ev.From, count))
		}
		return statem.Stop[string](fmt.Errorf("bad event %v", ev), count)
	}
	sw := statem.StateFuncs[string, D]{
		InitFunc: func(context.Context) (string, D, []statem.Action, error) {
			return "off", 0, nil, nil
		},
		States: map[string]statem.StateFunc[string, D]{
			"off": func(_ context.Context, ev statem.Event, count D) R {
				if ev.Type == statem.Cast && ev.Content == "flip" {
					return statem.Next("on", count+1)
				}
				return getCount(ev, count)
			},
			"on": func(_ context.Context, ev statem.Event, count D) R {
				if ev.Type == statem.Cast && ev.Content == "flip" {
					return statem.Next("off", count)
				}
				return getCount(ev, count)
			},
		},
	}
	ctx := context.Background()
	m, err := statem.Start(ctx, sw)
	if err != nil {
		panic(err)
	}
	m.Cast("flip")
	n, err := statem.CallAs[int](ctx, m, "get_count")
	fmt.Println(n, err)
	fmt.Println(m.Stop(ctx, nil))
	// Output:
	// 1 <nil>
	// <nil>
}

// SwitchCounts is the data of the state-enter Switch.
type SwitchCounts struct{ Enters, Flips int }

// EnterSwitch counts state enter calls too (callback mode
// [handle_event_function, state_enter]).
type EnterSwitch struct{}

func (EnterSwitch) Init(context.Context) (switchState, SwitchCounts, []statem.Action, error) {
	return "off", SwitchCounts{}, nil, nil
}

func (EnterSwitch) HandleEvent(_ context.Context, ev statem.Event, s switchState, d SwitchCounts) statem.Result[switchState, SwitchCounts] {
	switch {
	case ev.Type == statem.Enter:
		d.Enters++
		return statem.Keep[switchState](d)
	case ev.Type == statem.Cast && ev.Content == "flip" && s == "off":
		d.Flips++
		return statem.Next(switchState("on"), d)
	case ev.Type == statem.Cast && ev.Content == "flip" && s == "on":
		return statem.Next(switchState("off"), d)
	case ev.Type == statem.Call && ev.Content == "get_count":
		return statem.KeepAll[switchState, SwitchCounts](statem.Reply(ev.From, d))
	}
	return statem.Stop[switchState](fmt.Errorf("bad event %v", ev), d)
}

// With state enter calls: the initial state is entered too, so flip, flip
// gives three enters and one flip.
func Example_stateEnter() {
	ctx := context.Background()
	m, err := statem.Start(ctx, EnterSwitch{}, statem.WithStateEnter())
	if err != nil {
		panic(err)
	}
	m.Cast("flip")
	m.Cast("flip")
	d, err := statem.CallAs[SwitchCounts](ctx, m, "get_count")
	fmt.Printf("%+v %v\n", d, err)
	fmt.Println(m.Stop(ctx, nil))
	// Output:
	// {Enters:3 Flips:1} <nil>
	// <nil>
}
