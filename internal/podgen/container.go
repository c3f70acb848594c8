package podgen

import "strconv"

const (
	initKind = iota
	regularKind
	ephemeralKind
)

var images = []string{"nginx", "busybox:1.36", "registry.example/app:1", "proxy:2"}

// container builds a container of the given kind; vols are the volume
// names its mounts may use.
func (g *gen) container(name string, kind int, vols []string, p pathB) obj {
	c := obj{"name": name, "image": g.s.pick(images)}
	sidecar := kind == initKind && g.s.chance(50)
	if sidecar {
		c["restartPolicy"] = "Always"
	}
	if g.s.chance(30) {
		c["imagePullPolicy"] = g.s.pick([]string{"Always", "IfNotPresent"})
	}
	if g.s.chance(30) {
		c["command"] = arr{"/bin/sh", "-c"}
		c["args"] = arr{"sleep 3600"}
	}
	if kind == regularKind {
		g.list(c, "ports", func() arr {
			out := arr{}
			for i := g.s.intn(3); i > 0; i-- {
				port := 8080 + len(out)
				pt := obj{"containerPort": port, "protocol": "TCP"}
				if g.s.chance(50) {
					pt["name"] = "p" + strconv.Itoa(len(out))
				}
				g.plant(pt, p.m("ports").num("containerPort", port))
				out = append(out, pt)
			}
			return out
		})
	}
	g.list(c, "env", func() arr {
		out := arr{}
		for i := g.s.intn(4); i > 0; i-- {
			en := "VAR_" + strconv.Itoa(len(out))
			ep := p.m("env").key("name", en)
			e := obj{"name": en}
			if g.s.chance(60) {
				e["value"] = g.s.pick([]string{"", "1", "a b", "x/y~z"})
			} else {
				ref := obj{"fieldPath": "metadata.name"}
				g.plant(ref, ep.m("valueFrom").m("fieldRef"))
				from := obj{"fieldRef": ref}
				g.plant(from, ep.m("valueFrom"))
				e["valueFrom"] = from
			}
			g.plant(e, ep)
			out = append(out, e)
		}
		return out
	})
	if g.s.chance(40) {
		g.list(c, "envFrom", func() arr {
			out := arr{}
			for i := g.s.intn(3); i > 0; i-- {
				ep := p.m("envFrom").idx(len(out))
				key := g.s.pick([]string{"configMapRef", "secretRef"})
				ref := obj{"name": "ref" + strconv.Itoa(len(out))}
				g.plant(ref, ep.m(key))
				e := obj{key: ref}
				if g.s.chance(30) {
					e["prefix"] = "P_"
				}
				g.plant(e, ep)
				out = append(out, e)
			}
			return out
		})
	}
	if len(vols) > 0 {
		g.list(c, "volumeMounts", func() arr {
			out := arr{}
			for i := g.s.intn(3); i > 0; i-- {
				mp := "/mnt/m" + strconv.Itoa(len(out))
				m := obj{"name": g.s.pick(vols), "mountPath": mp}
				if g.s.chance(30) {
					m["readOnly"] = true
				}
				g.plant(m, p.m("volumeMounts").key("mountPath", mp))
				out = append(out, m)
			}
			return out
		})
	}
	if kind != ephemeralKind && g.s.chance(60) {
		r := obj{}
		if g.s.chance(80) {
			r["requests"] = obj{"cpu": "100m", "memory": "64Mi"}
		}
		if g.s.chance(50) {
			r["limits"] = obj{"memory": "128Mi"}
		}
		g.plant(r, p.m("resources"))
		c["resources"] = r
	}
	if g.s.chance(50) {
		sc := obj{"allowPrivilegeEscalation": false, "runAsUser": 1000}
		if g.s.chance(50) {
			caps := obj{"drop": arr{"ALL"}}
			g.plant(caps, p.m("securityContext").m("capabilities"))
			sc["capabilities"] = caps
		}
		g.plant(sc, p.m("securityContext"))
		c["securityContext"] = sc
	}
	if kind == regularKind || sidecar {
		for _, probe := range []string{"livenessProbe", "readinessProbe", "startupProbe"} {
			if sidecar && probe == "readinessProbe" || !g.s.chance(40) {
				continue
			}
			c[probe] = g.probe(p.m(probe))
		}
		if g.s.chance(40) {
			lc := obj{}
			if g.s.chance(60) {
				lc["postStart"] = g.handler(p.m("lifecycle").m("postStart"), false)
			}
			if g.s.chance(60) {
				lc["preStop"] = g.handler(p.m("lifecycle").m("preStop"), false)
			}
			g.plant(lc, p.m("lifecycle"))
			c["lifecycle"] = lc
		}
	}
	g.plant(c, p)
	return c
}

func (g *gen) probe(p pathB) obj {
	pr := g.handler(p, true)
	pr["periodSeconds"] = 1 + g.s.intn(30)
	if g.s.chance(50) {
		pr["failureThreshold"] = 3
	}
	return pr
}

// handler builds a probe (with tcpSocket allowed) or lifecycle handler,
// planting unknown fields in it and in its action.
func (g *gen) handler(p pathB, probe bool) obj {
	h := obj{}
	n := 2
	if probe {
		n = 3
	}
	switch g.s.intn(n) {
	case 0:
		a := obj{"command": arr{"true"}}
		g.plant(a, p.m("exec"))
		h["exec"] = a
	case 1:
		a := obj{"path": "/healthz", "port": g.s.pick([]string{"8080", "http"})}
		if a["port"] == "8080" {
			a["port"] = 8080
		}
		g.plant(a, p.m("httpGet"))
		h["httpGet"] = a
	default:
		a := obj{"port": 8080}
		g.plant(a, p.m("tcpSocket"))
		h["tcpSocket"] = a
	}
	g.plant(h, p)
	return h
}
