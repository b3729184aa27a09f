package main

import (
	"context"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/effusion-bt/effusion/dht"
	"github.com/spf13/cobra"
)

type dhtFlags struct {
	bootstrap []string
	listen    string
	timeout   time.Duration
	announce  uint16
}

func newDHTCmd() *cobra.Command {
	var f dhtFlags
	cmd := &cobra.Command{
		Use:   "dht",
		Short: "Ask the DHT (BEP 5) directly, for debugging",
		Long: `Run a short-lived DHT node and ask the DHT directly.

Without --bootstrap the node starts from the well-known public routers.
On loopback or a LAN, give the nodes to start from:

  effusion dht ping 127.0.0.1:6881
  effusion dht get-peers 0123456789abcdef0123456789abcdef01234567 --bootstrap 127.0.0.1:6881`,
	}
	pf := cmd.PersistentFlags()
	pf.StringArrayVar(&f.bootstrap, "bootstrap", nil, "DHT node HOST:PORT to start from (repeatable; default: the public routers)")
	pf.StringVar(&f.listen, "listen", "0.0.0.0:0", "UDP address of our node")
	pf.DurationVar(&f.timeout, "timeout", 30*time.Second, "give up after this long")

	ping := &cobra.Command{
		Use:   "ping HOST:PORT",
		Short: "Send a ping query to a DHT node and print its id and round trip",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runDHTPing(ctx, f, args[0], cmd.OutOrStdout())
		},
	}
	getPeers := &cobra.Command{
		Use:   "get-peers INFOHASH",
		Short: "Search the DHT for an info-hash; print the peers found and the nodes that answered",
		Long: `Search the DHT for an info-hash (40 hex digits or 32 base32 letters) and print
the peers found and the nodes asked. It exits 1 when no peer was found.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runDHTGetPeers(ctx, f, args[0], cmd.OutOrStdout())
		},
	}
	getPeers.Flags().Uint16Var(&f.announce, "announce", 0, "also announce this peer port for the info-hash (announce_peer)")
	cmd.AddCommand(ping, getPeers)
	return cmd
}

// startDHTNode starts the command's node. A nil bootstrap means the
// public routers; local targets select the local address policy.
func startDHTNode(ctx context.Context, f dhtFlags, policy dht.AddrPolicy, bootstrap []string) (*dht.Node, error) {
	if _, err := net.ResolveUDPAddr("udp", f.listen); err != nil {
		return nil, badInput(fmt.Errorf("--listen %q: %w", f.listen, err))
	}
	n, err := dht.New(ctx, dht.Config{Listen: f.listen, Bootstrap: bootstrap, AddrPolicy: policy})
	if errors.Is(err, dht.ErrBadBootstrap) {
		return nil, badInput(err)
	}
	return n, err
}

func runDHTPing(ctx context.Context, f dhtFlags, target string, w io.Writer) error {
	ap, err := netip.ParseAddrPort(target)
	if err != nil {
		ua, rerr := net.ResolveUDPAddr("udp", target)
		if rerr != nil || ua.Port == 0 {
			return badInput(fmt.Errorf("ping: %q is not HOST:PORT", target))
		}
		ap = ua.AddrPort()
	}
	policy := dht.AddrPolicyPublic
	if dht.IsLocal(ap.Addr()) {
		policy = dht.AddrPolicyLocal
	}
	n, err := startDHTNode(ctx, f, policy, []string{})
	if err != nil {
		return err
	}
	defer n.Close()
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	start := time.Now()
	id, err := n.Ping(ctx, ap)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%v answered in %v: node id %x\n", ap, time.Since(start).Round(time.Microsecond), id)
	return nil
}

// parseInfoHash reads 40 hex digits or 32 base32 letters.
func parseInfoHash(s string) ([20]byte, error) {
	var ih [20]byte
	switch len(s) {
	case 40:
		if _, err := hex.Decode(ih[:], []byte(s)); err == nil {
			return ih, nil
		}
	case 32:
		if b, err := base32.StdEncoding.DecodeString(strings.ToUpper(s)); err == nil && len(b) == 20 {
			return [20]byte(b), nil
		}
	}
	return ih, fmt.Errorf("info-hash %q is not 40 hex digits or 32 base32 letters", s)
}

func runDHTGetPeers(ctx context.Context, f dhtFlags, arg string, w io.Writer) error {
	ih, err := parseInfoHash(arg)
	if err != nil {
		return badInput(err)
	}
	boot := f.bootstrap // nil: the public routers
	n, err := startDHTNode(ctx, f, dht.AddrPolicyAuto, boot)
	if err != nil {
		return err
	}
	defer n.Close()
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	br, err := n.WaitBootstrap(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "bootstrap: %d nodes in the table (%d of %d asked answered)\n", br.Nodes, br.Responses, br.Tried)
	if br.Err != nil {
		return fmt.Errorf("bootstrap: %w", br.Err)
	}
	res, err := n.Search(ctx, ih, dht.SearchOptions{AnnouncePort: f.announce})
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	fmt.Fprintf(w, "peers (%d):\n", len(res.Peers))
	for _, p := range res.Peers {
		fmt.Fprintf(w, "  %v\n", p)
	}
	fmt.Fprintf(w, "nodes asked: %d, answered: %d\n", res.Tried, res.Responses)
	for _, r := range res.Responders {
		fmt.Fprintf(w, "  %x %v\n", r.ID, r.Addr)
	}
	if f.announce != 0 {
		fmt.Fprintf(w, "announced port %d\n", f.announce)
	}
	if len(res.Peers) == 0 {
		return errors.New("no peers found")
	}
	return nil
}
