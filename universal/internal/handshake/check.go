package handshake

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// httpGet runs an httpGet check like the kubelet's prober: a GET with the
// given headers (Host among them sets the request's host), no redirects,
// no certificate verification; a status from 200 to 399 passes.
func httpGet(ctx context.Context, sys System, h *HTTPGet) error {
	path := h.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	url := strings.ToLower(h.Scheme) + "://" + net.JoinHostPort(h.Host, strconv.Itoa(h.Port)) + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("handshake: http-get %s: %w", url, err)
	}
	req.Header.Set("User-Agent", "kube-probe/sidecarkit-handshake")
	req.Header.Set("Accept", "*/*")
	for _, hd := range h.Headers {
		if strings.EqualFold(hd.Name, "Host") {
			req.Host = hd.Value
			continue
		}
		req.Header.Add(hd.Name, hd.Value)
	}
	tr := &http.Transport{
		DialContext:       sys.Dial,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // as the kubelet's prober
		DisableKeepAlives: true,
		Proxy:             nil,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("handshake: http-get %s: %w", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("handshake: http-get %s: status %d", url, resp.StatusCode)
	}
	return nil
}

// tcpSocket runs a tcpSocket check: a connection that opens passes.
func tcpSocket(ctx context.Context, sys System, t *TCPSocket) error {
	addr := net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
	conn, err := sys.Dial(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("handshake: tcp-socket %s: %w", addr, err)
	}
	return conn.Close()
}
