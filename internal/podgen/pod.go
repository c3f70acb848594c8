package podgen

import "strconv"

// object builds the whole object of kind with a pod spec at its root.
func (g *gen) object(kind string) obj {
	root := pathB{}
	top := obj{"kind": kind}
	g.plant(top, root)
	if kind == "Pod" {
		top["apiVersion"] = "v1"
		top["metadata"] = g.meta(root.m("metadata"), true)
		top["spec"] = g.spec(root.m("spec"), kind)
		top["status"] = g.podStatus(root.m("status"))
		return top
	}
	top["metadata"] = g.meta(root.m("metadata"), false)
	tmpl := func(p pathB) obj {
		t := obj{"metadata": g.meta(p.m("metadata"), true), "spec": g.spec(p.m("spec"), kind)}
		g.plant(t, p)
		return t
	}
	sp := root.m("spec")
	spec := obj{}
	selector := obj{"matchLabels": obj{"app": "demo"}}
	switch kind {
	case "PodTemplate":
		top["apiVersion"] = "v1"
		top["template"] = tmpl(root.m("template"))
		return top
	case "ReplicationController":
		top["apiVersion"] = "v1"
		spec["replicas"] = 1 + g.s.intn(3)
		spec["selector"] = obj{"app": "demo"}
		spec["template"] = tmpl(sp.m("template"))
	case "Job":
		top["apiVersion"] = "batch/v1"
		spec["backoffLimit"] = g.s.intn(6)
		spec["template"] = tmpl(sp.m("template"))
	case "CronJob":
		top["apiVersion"] = "batch/v1"
		spec["schedule"] = "*/5 * * * *"
		jp := sp.m("jobTemplate")
		job := obj{"spec": obj{"template": tmpl(jp.m("spec").m("template"))}}
		if g.s.chance(50) {
			job["metadata"] = obj{"labels": obj{"job": "demo"}}
		}
		g.plant(job["spec"].(obj), jp.m("spec"))
		g.plant(job, jp)
		spec["jobTemplate"] = job
	default: // apps/v1
		top["apiVersion"] = "apps/v1"
		spec["selector"] = selector
		spec["template"] = tmpl(sp.m("template"))
		switch kind {
		case "Deployment":
			spec["replicas"] = 1 + g.s.intn(3)
			spec["strategy"] = obj{"type": "RollingUpdate", "rollingUpdate": obj{"maxSurge": "25%", "maxUnavailable": 1}}
		case "StatefulSet":
			spec["replicas"] = 1 + g.s.intn(3)
			spec["serviceName"] = "demo"
		case "ReplicaSet":
			spec["replicas"] = 1 + g.s.intn(3)
		}
	}
	g.plant(spec, sp)
	top["spec"] = spec
	status := obj{}
	switch kind {
	case "Job":
		status["active"] = 1
	case "CronJob":
	default:
		status["observedGeneration"] = 1
	}
	g.plant(status, root.m("status"))
	top["status"] = status
	return top
}

func (g *gen) meta(p pathB, pod bool) obj {
	m := obj{}
	if !pod || g.s.chance(50) {
		m["name"] = "demo-" + strconv.Itoa(g.s.intn(100))
	}
	if g.s.chance(50) {
		m["namespace"] = "default"
	}
	labels := obj{"app": "demo"}
	if g.s.chance(50) {
		labels["example.com/role"] = "web"
	}
	m["labels"] = labels
	switch g.s.intn(4) {
	case 0:
	case 1:
		m["annotations"] = nil
	case 2:
		m["annotations"] = obj{}
	default:
		m["annotations"] = obj{"example.com/a~b": "v", "sidecar.example.com/inject": "true", "plain": "x"}
	}
	if g.s.chance(30) {
		uid := "uid-" + strconv.Itoa(g.s.intn(1000))
		ref := obj{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": uid, "controller": true}
		g.plant(ref, p.m("ownerReferences").key("uid", uid))
		m["ownerReferences"] = arr{ref}
	}
	g.plant(m, p)
	return m
}

func (g *gen) spec(p pathB, kind string) obj {
	s := obj{}
	var vols []string
	g.list(s, "volumes", func() arr {
		out := arr{}
		for i := g.s.intn(4); i > 0; i-- {
			name := "vol-" + strconv.Itoa(len(out))
			out = append(out, g.volume(name, p.m("volumes").key("name", name)))
			vols = append(vols, name)
		}
		return out
	})
	g.list(s, "initContainers", func() arr {
		out := arr{}
		for i := g.s.intn(4); i > 0; i-- {
			name := "init-" + strconv.Itoa(len(out))
			out = append(out, g.container(name, initKind, vols, p.m("initContainers").key("name", name)))
		}
		return out
	})
	containers := arr{}
	for i := 1 + g.s.intn(3); i > 0; i-- {
		name := "app-" + strconv.Itoa(len(containers))
		containers = append(containers, g.container(name, regularKind, vols, p.m("containers").key("name", name)))
	}
	s["containers"] = containers
	if g.s.chance(30) {
		g.list(s, "ephemeralContainers", func() arr {
			out := arr{}
			for i := g.s.intn(3); i > 0; i-- {
				name := "debug-" + strconv.Itoa(len(out))
				c := g.container(name, ephemeralKind, vols, p.m("ephemeralContainers").key("name", name))
				c["targetContainerName"] = "app-0"
				out = append(out, c)
			}
			return out
		})
	}
	g.list(s, "tolerations", func() arr {
		out := arr{}
		for i := g.s.intn(3); i > 0; i-- {
			t := obj{"key": "k" + strconv.Itoa(len(out)), "operator": g.s.pick([]string{"Exists", "Equal"}), "effect": "NoSchedule"}
			if t["operator"] == "Equal" {
				t["value"] = "v"
			}
			g.plant(t, p.m("tolerations").idx(len(out)))
			out = append(out, t)
		}
		return out
	})
	if g.s.chance(60) {
		s["affinity"] = g.affinity(p.m("affinity"))
	}
	if kind == "Job" || kind == "CronJob" {
		s["restartPolicy"] = g.s.pick([]string{"OnFailure", "Never"})
	} else if g.s.chance(50) {
		s["restartPolicy"] = "Always"
	}
	if g.s.chance(50) {
		s["serviceAccountName"] = "demo"
	}
	if g.s.chance(40) {
		s["nodeSelector"] = obj{"kubernetes.io/os": "linux"}
	}
	if g.s.chance(40) {
		s["terminationGracePeriodSeconds"] = 30
	}
	if g.s.chance(40) {
		sc := obj{"runAsNonRoot": true, "fsGroup": 2000}
		g.plant(sc, p.m("securityContext"))
		s["securityContext"] = sc
	}
	g.plant(s, p)
	return s
}

func (g *gen) volume(name string, p pathB) obj {
	v := obj{"name": name}
	var src obj
	var key string
	switch g.s.intn(5) {
	case 0:
		key, src = "emptyDir", obj{}
		if g.s.chance(50) {
			src["sizeLimit"] = "1Gi"
		}
	case 1:
		key, src = "configMap", obj{"name": "cm", "defaultMode": 420}
		if g.s.chance(60) {
			item := obj{"key": "k", "path": "p"}
			g.plant(item, p.m(key).m("items").idx(0))
			src["items"] = arr{item}
		}
	case 2:
		key, src = "secret", obj{"secretName": "s"}
	case 3:
		key, src = "hostPath", obj{"path": "/var/log", "type": "Directory"}
	default:
		key = "projected"
		cm := obj{"name": "cm"}
		g.plant(cm, p.m(key).m("sources").idx(0).m("configMap"))
		proj := obj{"configMap": cm}
		g.plant(proj, p.m(key).m("sources").idx(0))
		src = obj{"sources": arr{proj}}
	}
	g.plant(src, p.m(key))
	v[key] = src
	g.plant(v, p)
	return v
}

func (g *gen) affinity(p pathB) obj {
	a := obj{}
	expr := func(q pathB, key string) obj {
		e := obj{"key": key, "operator": "In", "values": arr{"a", "b"}}
		g.plant(e, q)
		return e
	}
	if g.s.chance(80) {
		na := obj{}
		np := p.m("nodeAffinity")
		if g.s.chance(70) {
			rp := np.m("requiredDuringSchedulingIgnoredDuringExecution")
			terms := arr{}
			for i := 1 + g.s.intn(2); i > 0; i-- {
				tp := rp.m("nodeSelectorTerms").idx(len(terms))
				term := obj{"matchExpressions": arr{expr(tp.m("matchExpressions").idx(0), "zone")}}
				g.plant(term, tp)
				terms = append(terms, term)
			}
			req := obj{"nodeSelectorTerms": terms}
			g.plant(req, rp)
			na["requiredDuringSchedulingIgnoredDuringExecution"] = req
		}
		if g.s.chance(50) {
			pp := np.m("preferredDuringSchedulingIgnoredDuringExecution").idx(0)
			pref := obj{"matchExpressions": arr{expr(pp.m("preference").m("matchExpressions").idx(0), "disk")}}
			g.plant(pref, pp.m("preference"))
			term := obj{"weight": 10, "preference": pref}
			g.plant(term, pp)
			na["preferredDuringSchedulingIgnoredDuringExecution"] = arr{term}
		}
		g.plant(na, np)
		a["nodeAffinity"] = na
	}
	if g.s.chance(50) {
		ap := p.m("podAntiAffinity")
		tp := ap.m("preferredDuringSchedulingIgnoredDuringExecution").idx(0)
		sel := obj{"matchLabels": obj{"app": "demo"}}
		g.plant(sel, tp.m("podAffinityTerm").m("labelSelector"))
		pat := obj{"labelSelector": sel, "topologyKey": "kubernetes.io/hostname"}
		g.plant(pat, tp.m("podAffinityTerm"))
		term := obj{"weight": 50, "podAffinityTerm": pat}
		g.plant(term, tp)
		anti := obj{"preferredDuringSchedulingIgnoredDuringExecution": arr{term}}
		g.plant(anti, ap)
		a["podAntiAffinity"] = anti
	}
	g.plant(a, p)
	return a
}

func (g *gen) podStatus(p pathB) obj {
	st := obj{"phase": g.s.pick([]string{"Pending", "Running"})}
	if g.s.chance(50) {
		c := obj{"type": "Ready", "status": "False"}
		g.plant(c, p.m("conditions").key("type", "Ready"))
		st["conditions"] = arr{c}
	}
	if g.s.chance(50) {
		cs := obj{"name": "app-0", "ready": false, "restartCount": 0, "image": "nginx", "imageID": ""}
		g.plant(cs, p.m("containerStatuses").idx(0))
		st["containerStatuses"] = arr{cs}
	}
	g.plant(st, p)
	return st
}
