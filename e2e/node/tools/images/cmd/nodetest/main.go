// Command nodetest is the workload of the node e2e tests: the sidecar's
// server and the app that needs it. Both append one line per event to a
// shared events file (a hostPath volume the test reads on the node):
//
//	<unix nanoseconds> <event> <who> [detail]
//
// Events: bind (a server bound its port), bind-failed, serve-term (a server
// got SIGTERM), serve-exit (it closed its port and its connections, after
// serve-term), reached (the app got an answer from the sidecar), app-term
// (the app got SIGTERM), app-exit (the app exits). The server names itself
// after the handshake role it runs under (SIDECARKIT_HANDSHAKE_ROLE), or
// -name when run without the handshake.
//
//	nodetest serve -port 9090 -events /events/log [-name sidecar]
//	nodetest app -url http://127.0.0.1:9090/ -events /events/log [-job [-hold FILE]] [-grace 500ms]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: nodetest serve|app [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "app":
		err = app(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "nodetest:", err)
		os.Exit(1)
	}
}

// record appends one event line to the events file (one write, O_APPEND:
// lines of concurrent writers do not interleave) and prints it.
func record(path, event, who, detail string) {
	line := fmt.Sprintf("%d %s %s", time.Now().UnixNano(), event, who)
	if detail != "" {
		line += " " + strings.ReplaceAll(detail, "\n", " ")
	}
	fmt.Println(line)
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o666)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nodetest: events:", err)
		return
	}
	defer f.Close()
	if _, err := f.Write([]byte(line + "\n")); err != nil {
		fmt.Fprintln(os.Stderr, "nodetest: events:", err)
	}
}

func terms() chan os.Signal {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	return c
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	port := fs.Int("port", 9090, "TCP port to bind on all addresses")
	events := fs.String("events", "", "events file")
	name := fs.String("name", "sidecar", "name when SIDECARKIT_HANDSHAKE_ROLE is unset")
	if err := fs.Parse(args); err != nil {
		return err
	}
	who := *name
	if role := os.Getenv("SIDECARKIT_HANDSHAKE_ROLE"); role != "" {
		who = *name + "/" + role
	}
	sigs := terms()
	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", *port))
	if err != nil {
		record(*events, "bind-failed", who, err.Error())
		return err
	}
	record(*events, "bind", who, fmt.Sprintf("port=%d pid=%d", *port, os.Getpid()))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s\n", who)
	}), ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case s := <-sigs:
		record(*events, "serve-term", who, s.String())
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		err := srv.Shutdown(ctx)
		record(*events, "serve-exit", who, fmt.Sprintf("pid=%d", os.Getpid()))
		return err
	case err := <-done:
		return err
	}
}

func app(args []string) error {
	fs := flag.NewFlagSet("app", flag.ContinueOnError)
	url := fs.String("url", "http://127.0.0.1:9090/", "the sidecar's URL")
	events := fs.String("events", "", "events file")
	job := fs.Bool("job", false, "exit 0 once the sidecar answered (a Job's Pod)")
	wait := fs.Duration("wait", 60*time.Second, "how long to wait for the sidecar")
	grace := fs.Duration("grace", 500*time.Millisecond, "time taken to shut down after SIGTERM")
	hold := fs.String("hold", "", "with -job, exit only once this file exists (the test releases the Job)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sigs := terms()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(*wait)
	for {
		body, err := get(client, *url)
		if err == nil {
			record(*events, "reached", "app", body)
			break
		}
		if time.Now().After(deadline) {
			record(*events, "unreached", "app", err.Error())
			return fmt.Errorf("sidecar at %s did not answer within %v: %w", *url, *wait, err)
		}
		select {
		case s := <-sigs:
			record(*events, "app-term", "app", s.String())
			return errors.New("terminated before the sidecar answered")
		case <-time.After(50 * time.Millisecond):
		}
	}
	if *job {
		for *hold != "" {
			if _, err := os.Stat(*hold); err == nil {
				break
			}
			select {
			case s := <-sigs:
				record(*events, "app-term", "app", s.String())
				return errors.New("terminated before the Job was released")
			case <-time.After(100 * time.Millisecond):
			}
		}
		record(*events, "app-exit", "app", "job done")
		return nil
	}
	s := <-sigs
	record(*events, "app-term", "app", s.String())
	time.Sleep(*grace)
	// The sidecar must still serve while the app shuts down (native
	// sidecars stop after the app).
	body, err := get(client, *url)
	if err != nil {
		body = "unreachable: " + err.Error()
	}
	record(*events, "app-exit", "app", "sidecar "+body)
	return nil
}

func get(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", url, resp.Status)
	}
	return strings.TrimSpace(string(b)), nil
}
