package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func runSwarmCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newSwarmCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String() + errOut.String(), err
}

func TestSwarmCmdVerifiesCopies(t *testing.T) {
	out, err := runSwarmCmd(t, "--size", "1MiB", "--files", "2", "--leechers", "2", "--dir", t.TempDir())
	if err != nil {
		t.Fatalf("swarm: %v\n%s", err, out)
	}
	for _, want := range []string{"leecher 1", "leecher 2", "every copy matches the payload byte for byte"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestSwarmCmdTrackerless: effusion swarm --dht, the trackerless demo.
func TestSwarmCmdTrackerless(t *testing.T) {
	out, err := runSwarmCmd(t, "--dht", "--dht-nodes", "6", "--size", "2MiB", "--leechers", "2", "--dir", t.TempDir())
	if err != nil {
		t.Fatalf("swarm --dht: %v\n%s", err, out)
	}
	for _, want := range []string{"no tracker: a loopback DHT of 6 nodes", "leecher 2", "every copy matches the payload byte for byte"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestSwarmCmdBadInputExits2(t *testing.T) {
	for _, args := range [][]string{
		{"--size", "lots"},
		{"--size", "0"},
		{"--piece-length", "1.5MiB"},
		{"--piece-length", "0"},
		{"--leechers", "0"},
		{"--files", "-1"},
		{"--seeders", "0"},
		{"--dht", "--dht-nodes", "0"},
		{"--dht", "--dht-nodes", "501"},
	} {
		_, err := runSwarmCmd(t, args...)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 {
			t.Errorf("%v: got %v, want an exit status 2 error", args, err)
		}
	}
}
