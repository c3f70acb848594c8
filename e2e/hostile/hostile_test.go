package hostile

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/sidecarkit/sidecarkit/e2e/cluster"
)

const (
	// maxBody is the webhook's default --max-body-bytes: the largest
	// length an attacker can claim without an immediate 413.
	maxBody = 3 << 20
	// attackTime is how long each attack lasts; legitimate reviews are
	// sent from warmup on.
	attackTime = 6 * time.Second
	warmup     = time.Second
	legitEvery = 250 * time.Millisecond
	// legitBound is how long a legitimate review may take under attack,
	// on the API server's kept-alive HTTP/2 connection.
	legitBound = time.Second
	// newConnBound is how long one may take on a new connection: the
	// webhook timeout of the shipped manifests. (On a machine other work
	// keeps busy, a TLS handshake queued behind an attacker's hundreds per
	// second can take longer than legitBound.)
	newConnBound = 5 * time.Second
	// floodBound is the peak resident memory allowed under the floods
	// and slow bodies, which the webhook answers without reviewing
	// (measured: about 40 MiB; 340 to 950 MiB before the Handler bounded
	// memory by bytes received).
	floodBound = 100 << 20
	// reviewBound is the peak allowed while maximal reviews are answered
	// (two at a time, the default in-flight limit; measured: 60 to 130
	// MiB, the garbage collector's timing varies): under the 256 MiB
	// limit of the shipped Deployment.
	reviewBound = 160 << 20
	// killAbove protects the machine: a webhook above it is killed and
	// the attack fails at once.
	killAbove = 3 << 30
)

// The sidecar of the webhook under attack, with appMounts and appEnv, so
// that every app container of a Pod gets a mount and a variable.
const webhookConfig = `
sidecar:
  container:
    name: proxy
    image: registry.example/mesh/proxy:1.9
    volumeMounts:
    - {name: proxy-socket, mountPath: /var/run/proxy}
  volumes:
  - {name: proxy-socket, emptyDir: {medium: Memory}}
  appMounts:
  - {name: proxy-socket, mountPath: /var/run/proxy, readOnly: true}
  appEnv:
  - {name: PROXY_SOCKET, value: /var/run/proxy/proxy.sock}
mode: auto
`

func TestHostile(t *testing.T) {
	if os.Getenv("SIDECARKIT_HOSTILE") != "1" {
		t.Skip("set SIDECARKIT_HOSTILE=1 to run the hostile-load test (see e2e/README.md)")
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/PID/status")
	}
	bin := os.Getenv("SIDECARKIT_HOSTILE_WEBHOOK")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "webhook")
		start := time.Now()
		build := exec.Command("go", "build", "-o", bin, "./webhook")
		build.Dir = filepath.Join("..", "..", "examples")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build examples/webhook: %v\n%s", err, out)
		}
		t.Logf("built examples/webhook in %v", time.Since(start).Round(time.Millisecond))
	}
	maximal := maximalReview(t)
	t.Logf("maximal review: %d bytes, %d app containers", len(maximal), maximalContainers)
	var results []string
	for _, a := range []struct {
		name   string
		bound  int64
		attack func(ctx context.Context, w *webhook) string
	}{
		{"300 held HTTP/1.1 connections claiming 3 MiB", floodBound, func(ctx context.Context, w *webhook) string { return heldConnections(ctx, w, 300, false) }},
		{"250 held HTTP/2 streams claiming 3 MiB", floodBound, func(ctx context.Context, w *webhook) string { return heldStreams(ctx, w, 250) }},
		{"100 slow bodies of 3 MiB", floodBound, func(ctx context.Context, w *webhook) string { return heldConnections(ctx, w, 100, true) }},
		{"50 concurrent maximal reviews", reviewBound, func(ctx context.Context, w *webhook) string { return maximalReviews(ctx, w, 50, maximal, false) }},
		{"50 clients hanging up mid-review", reviewBound, func(ctx context.Context, w *webhook) string { return maximalReviews(ctx, w, 50, maximal, true) }},
	} {
		t.Run(a.name, func(t *testing.T) {
			results = append(results, runAttack(t, bin, a.name, a.bound, a.attack))
		})
	}
	t.Logf("summary:\n%s", strings.Join(results, "\n"))
}

// runAttack starts a webhook, attacks it for attackTime while sending
// legitimate reviews, and checks its peak memory and their answers.
func runAttack(t *testing.T, bin, name string, bound int64, attack func(context.Context, *webhook) string) string {
	w := startWebhook(t, bin)
	// As the API server, which keeps its HTTP/2 connections to a
	// webhook: one connection opened before the attack. Every other
	// review goes on a new connection instead.
	kept := w.client()
	defer kept.CloseIdleConnections()
	if r := w.legit(kept, newConnBound); r.err != nil || r.status != http.StatusOK {
		t.Fatalf("a review before the attack: %d %v", r.status, r.err)
	}
	_, before := w.memory(t)
	ctx, cancel := context.WithTimeout(context.Background(), attackTime)
	defer cancel()
	var stats string
	attacked := make(chan struct{})
	go func() {
		defer close(attacked)
		stats = attack(ctx, w)
	}()
	killed := make(chan int64, 1)
	go w.watch(ctx, killed)

	var legit []legitResult
	time.Sleep(warmup)
	tick := time.NewTicker(legitEvery)
	defer tick.Stop()
loop:
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			if i%2 == 0 {
				legit = append(legit, w.legit(kept, legitBound))
			} else {
				fresh := w.client()
				legit = append(legit, w.legit(fresh, newConnBound))
				fresh.CloseIdleConnections()
			}
		}
	}
	cancel()
	<-attacked
	select {
	case k := <-killed:
		t.Fatalf("the webhook reached %d MiB resident and was killed", k>>20)
	default:
	}
	rss, peak := w.memory(t)
	var worst [2]time.Duration // kept connection, new connections
	var n, failed [2]int
	for _, l := range legit {
		k := 0
		if l.bound != legitBound {
			k = 1
		}
		n[k]++
		if l.latency > worst[k] {
			worst[k] = l.latency
		}
		if l.err != nil || l.status != http.StatusOK || l.latency > l.bound {
			failed[k]++
			t.Errorf("legitimate review (bound %v): status %d after %v, error %v", l.bound, l.status, l.latency.Round(time.Millisecond), l.err)
		}
	}
	if n[0] == 0 || n[1] == 0 {
		t.Error("too few legitimate reviews were sent")
	}
	if peak > bound {
		t.Errorf("peak resident memory %d MiB, want at most %d MiB", peak>>20, bound>>20)
	}
	line := fmt.Sprintf("%-46s peak RSS %4d MiB (bound %d; idle %d, after %d); legitimate reviews 200 within %v on the kept connection %d/%d (slowest %v), within %v on new ones %d/%d (slowest %v); attack: %s",
		name, peak>>20, bound>>20, before>>20, rss>>20, legitBound, n[0]-failed[0], n[0], worst[0].Round(time.Millisecond),
		newConnBound, n[1]-failed[1], n[1], worst[1].Round(time.Millisecond), stats)
	t.Log(line)
	return line
}

// webhook is the examples/webhook process under attack.
type webhook struct {
	cmd  *exec.Cmd
	addr string
	tls  *tls.Config // a client's: trusts the webhook's certificate
	dir  string
}

func startWebhook(t *testing.T, bin string) *webhook {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(webhookConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	pki, err := cluster.NewPKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pki.CACert)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	logs, err := os.Create(filepath.Join(dir, "webhook.log"))
	if err != nil {
		t.Fatal(err)
	}
	// Only flags every version of the webhook has, and its defaults.
	cmd := exec.Command(bin, "--addr", addr, "--config", filepath.Join(dir, "config.yaml"),
		"--tls-cert-file", pki.WebhookCertFile, "--tls-key-file", pki.WebhookKeyFile,
		"--apiserver-version", "v1.33.1", "--kubelet-version", "v1.33.1", "--log-level", "error")
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the webhook: %v", err)
	}
	w := &webhook{cmd: cmd, addr: addr, tls: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}, dir: dir}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logs.Close()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "webhook.log")); err == nil {
				if len(b) > 4<<10 {
					b = b[len(b)-4<<10:]
				}
				t.Logf("webhook log (tail):\n%s", b)
			}
		}
	})
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: w.tls}}
	defer client.CloseIdleConnections()
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := client.Get("https://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return w
			}
		}
		select {
		case <-exited:
			t.Fatalf("the webhook exited: %v", cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the webhook is not ready at %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// memory returns the webhook's resident memory now and at its peak.
func (w *webhook) memory(t *testing.T) (rss, peak int64) {
	t.Helper()
	rss, peak, err := procMemory(w.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	return rss, peak
}

func procMemory(pid int) (rss, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[2] != "kB" {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return 0, 0, err
		}
		switch f[0] {
		case "VmRSS:":
			rss = n << 10
		case "VmHWM:":
			peak = n << 10
		}
	}
	if rss == 0 || peak == 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status has no VmRSS or VmHWM", pid)
	}
	return rss, peak, nil
}

// watch kills the webhook when it grows past killAbove.
func (w *webhook) watch(ctx context.Context, killed chan<- int64) {
	for ctx.Err() == nil {
		if rss, _, err := procMemory(w.cmd.Process.Pid); err == nil && rss > killAbove {
			_ = w.cmd.Process.Kill()
			killed <- rss
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type legitResult struct {
	status         int
	latency, bound time.Duration
	err            error
}

// legitReview is a small Pod's review, as the API server sends it.
var legitReview = func() []byte {
	var c []string
	for i := 0; i < 10; i++ {
		c = append(c, fmt.Sprintf(`{"name":"app-%d","image":"registry.example/shop/app:1.2.3","args":["--port=808%d"],`+
			`"env":[{"name":"MODE","value":"production"},{"name":"REGION","value":"eu-west-1"}],`+
			`"resources":{"requests":{"cpu":"100m","memory":"128Mi"},"limits":{"memory":"256Mi"}},`+
			`"readinessProbe":{"httpGet":{"path":"/ready","port":808%d},"periodSeconds":5},`+
			`"volumeMounts":[{"name":"data","mountPath":"/data"}],"securityContext":{"runAsNonRoot":true,"allowPrivilegeEscalation":false}}`, i, i, i))
	}
	return reviewOf("legit", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop","labels":{"app":"web"}},`+
		`"spec":{"containers":[`+strings.Join(c, ",")+`],"volumes":[{"name":"data","emptyDir":{}}]}}`)
}()

func reviewOf(uid, pod string) []byte {
	return []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"` + uid + `",` +
		`"kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},` +
		`"namespace":"shop","operation":"CREATE","userInfo":{"username":"system:serviceaccount:kube-system:replicaset-controller"},` +
		`"object":` + pod + `,"oldObject":null,"dryRun":false}}`)
}

// client is an HTTP/2 client of the webhook, as the API server's.
func (w *webhook) client() *http.Client {
	return &http.Client{Timeout: newConnBound, Transport: &http.Transport{TLSClientConfig: w.tls.Clone(), ForceAttemptHTTP2: true}}
}

// legit sends a legitimate review as the API server does (HTTP/2, with its
// timeout) with client, to be answered within bound.
func (w *webhook) legit(client *http.Client, bound time.Duration) legitResult {
	start := time.Now()
	resp, err := client.Post("https://"+w.addr+"/mutate?timeout=5s", "application/json", bytes.NewReader(legitReview))
	if err != nil {
		return legitResult{latency: time.Since(start), bound: bound, err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	res := legitResult{status: resp.StatusCode, latency: time.Since(start), bound: bound, err: err}
	if err == nil && (resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(`"allowed":true,"patch"`))) {
		res.err = fmt.Errorf("answer %.200q", b)
	}
	return res
}

// maximalContainers is the number of app containers of the maximal review:
// few enough that the quadratic patch of main takes a fraction of a second
// per review, with each container large enough to bring the review to
// just under the body limit.
const maximalContainers = 1500

// maximalReview is a review of a Pod with maximalContainers app
// containers, just under maxBody.
func maximalReview(t *testing.T) []byte {
	t.Helper()
	pad := 1
	for {
		var c []string
		for i := 0; i < maximalContainers; i++ {
			c = append(c, fmt.Sprintf(`{"name":"app-%d","image":"registry.example/shop/app:1.2.3","args":["--id=%d","--note=%s"],`+
				`"env":[{"name":"MODE","value":"production"},{"name":"REGION","value":"eu-west-1"}],`+
				`"resources":{"requests":{"cpu":"10m","memory":"16Mi"}},"volumeMounts":[{"name":"data","mountPath":"/data"}]}`,
				i, i, strings.Repeat("x", pad)))
		}
		b := reviewOf("maximal", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"big","namespace":"shop"},`+
			`"spec":{"containers":[`+strings.Join(c, ",")+`],"volumes":[{"name":"data","emptyDir":{}}]}}`)
		if len(b) > maxBody {
			t.Fatalf("maximal review of %d bytes is over the limit", len(b))
		}
		if next := len(b) + maximalContainers*64; next > maxBody {
			return b
		}
		pad += 64
	}
}

// heldConnections keeps n HTTP/1.1 connections open, each with a request
// that claims a body of maxBody bytes: header-only (one byte of body), or
// with slow the body sent 4 KiB every 100 ms. A connection the server
// closes is opened again after one to three seconds.
func heldConnections(ctx context.Context, w *webhook, n int, slow bool) string {
	var opened, answered, failed atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := holdOne(ctx, w, slow, &opened, &answered); err != nil {
					failed.Add(1)
				}
				// 1 to 3 s, so that the connections the server closed at
				// once do not all come back at once.
				sleep(ctx, time.Second+time.Duration(mathrand.Int64N(int64(2*time.Second))))
			}
		}()
	}
	wg.Wait()
	return fmt.Sprintf("%d connections opened, %d answered before the end, %d failed to connect", opened.Load(), answered.Load(), failed.Load())
}

func holdOne(ctx context.Context, w *webhook, slow bool, opened, answered *atomic.Int64) error {
	d := tls.Dialer{Config: w.tls.Clone()}
	d.Config.NextProtos = []string{"http/1.1"}
	conn, err := d.DialContext(ctx, "tcp", w.addr)
	if err != nil {
		return err
	}
	opened.Add(1)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	head := fmt.Sprintf("POST /mutate HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", w.addr, maxBody)
	if _, err := io.WriteString(conn, head); err != nil {
		return nil
	}
	done := make(chan struct{})
	if slow {
		go func() {
			chunk := bytes.Repeat([]byte(" "), 4<<10)
			for sent := 1; sent < maxBody; sent += len(chunk) {
				select {
				case <-done:
					return
				case <-time.After(100 * time.Millisecond):
				}
				if _, err := conn.Write(chunk); err != nil {
					return
				}
			}
		}()
	}
	// Wait for the server's answer or close.
	_, err = bufio.NewReader(conn).ReadByte()
	close(done)
	if err == nil {
		answered.Add(1)
	}
	return nil
}

// heldStreams keeps n HTTP/2 streams open on one connection, each a
// request that claims maxBody bytes and sends one; a stream the server
// ends is opened again after a second. It ignores the server's stream
// limit, as an attacker would.
func heldStreams(ctx context.Context, w *webhook, n int) string {
	var opened, ended, conns int64
	for ctx.Err() == nil {
		o, e, err := streamsOnOneConn(ctx, w, n)
		opened += o
		ended += e
		conns++
		if err != nil && ctx.Err() == nil {
			time.Sleep(time.Second)
		}
	}
	return fmt.Sprintf("%d connections, %d streams opened, %d ended by the server", conns, opened, ended)
}

func streamsOnOneConn(ctx context.Context, w *webhook, n int) (opened, ended int64, err error) {
	d := tls.Dialer{Config: w.tls.Clone()}
	d.Config.NextProtos = []string{"h2"}
	conn, err := d.DialContext(ctx, "tcp", w.addr)
	if err != nil {
		return 0, 0, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		return 0, 0, err
	}
	fr := http2.NewFramer(conn, conn)
	var mu sync.Mutex // serialises writes
	write := func(f func() error) error {
		mu.Lock()
		defer mu.Unlock()
		return f()
	}
	if err := write(func() error { return fr.WriteSettings() }); err != nil {
		return 0, 0, err
	}
	var open atomic.Int64
	var endedN atomic.Int64
	var streamsMu sync.Mutex
	live := map[uint32]bool{}
	end := func(id uint32) {
		streamsMu.Lock()
		defer streamsMu.Unlock()
		if live[id] {
			delete(live, id)
			open.Add(-1)
			endedN.Add(1)
		}
	}
	readErr := make(chan error, 1)
	go func() {
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				readErr <- err
				return
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() {
					_ = write(func() error { return fr.WriteSettingsAck() })
				}
			case *http2.PingFrame:
				if !f.IsAck() {
					_ = write(func() error { return fr.WritePing(true, f.Data) })
				}
			case *http2.HeadersFrame:
				if f.StreamEnded() {
					end(f.StreamID)
				}
			case *http2.DataFrame:
				if f.StreamEnded() {
					end(f.StreamID)
				}
			case *http2.RSTStreamFrame:
				end(f.StreamID)
			case *http2.GoAwayFrame:
				readErr <- fmt.Errorf("GOAWAY %v", f.ErrCode)
				return
			}
		}
	}()
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	next := uint32(1)
	top := func() error {
		for open.Load() < int64(n) {
			hbuf.Reset()
			for _, h := range [][2]string{{":method", "POST"}, {":scheme", "https"}, {":authority", w.addr}, {":path", "/mutate"},
				{"content-type", "application/json"}, {"content-length", strconv.Itoa(maxBody)}} {
				_ = enc.WriteField(hpack.HeaderField{Name: h[0], Value: h[1]})
			}
			id := next
			next += 2
			streamsMu.Lock()
			live[id] = true
			streamsMu.Unlock()
			if err := write(func() error {
				if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hbuf.Bytes(), EndHeaders: true}); err != nil {
					return err
				}
				return fr.WriteData(id, false, []byte("{"))
			}); err != nil {
				return err
			}
			open.Add(1)
			opened++
		}
		return nil
	}
	for {
		if err := top(); err != nil {
			return opened, endedN.Load(), err
		}
		select {
		case <-ctx.Done():
			return opened, endedN.Load(), nil
		case err := <-readErr:
			return opened, endedN.Load(), err
		case <-time.After(time.Second):
		}
	}
}

// maximalReviews runs n clients that send the maximal review over and over
// (HTTP/2, as the API server), pausing 250 ms after a refusal; with hangUp,
// over new HTTP/1.1 connections they close as soon as the body is sent,
// every 500 ms. (The pauses keep the attackers, on the same machine, from
// taking all its CPU.)
func maximalReviews(ctx context.Context, w *webhook, n int, review []byte, hangUp bool) string {
	var ok, refused, other, errs atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{TLSClientConfig: w.tls.Clone(), ForceAttemptHTTP2: true}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			for ctx.Err() == nil {
				if hangUp {
					if err := sendAndHangUp(ctx, w, review); err != nil && ctx.Err() == nil {
						errs.Add(1)
					} else {
						ok.Add(1)
					}
					sleep(ctx, 500*time.Millisecond)
					continue
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+w.addr+"/mutate", bytes.NewReader(review))
				if err != nil {
					panic(err)
				}
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						errs.Add(1)
						sleep(ctx, 100*time.Millisecond)
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusOK:
					ok.Add(1)
				case http.StatusTooManyRequests, http.StatusServiceUnavailable:
					refused.Add(1)
					sleep(ctx, 250*time.Millisecond)
				default:
					other.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if hangUp {
		return fmt.Sprintf("%d reviews sent and hung up on, %d failed to send", ok.Load(), errs.Load())
	}
	return fmt.Sprintf("%d answered 200, %d refused (429), %d other statuses, %d errors", ok.Load(), refused.Load(), other.Load(), errs.Load())
}

// sendAndHangUp sends review on a new HTTP/1.1 connection and closes it
// without waiting for the answer.
func sendAndHangUp(ctx context.Context, w *webhook, review []byte) error {
	d := tls.Dialer{Config: w.tls.Clone()}
	d.Config.NextProtos = []string{"http/1.1"}
	conn, err := d.DialContext(ctx, "tcp", w.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	head := fmt.Sprintf("POST /mutate HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", w.addr, len(review))
	if _, err := io.WriteString(conn, head); err != nil {
		return err
	}
	if _, err := conn.Write(review); err != nil && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		return err
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
