package rules

import (
	"testing"
)

func TestKT880Gunicorn(t *testing.T) {
	confExpect(t, confLint(t, "gunicorn", map[string]string{"gunicorn.conf.py": "workers = 4\nkeepalive = 75\n"}, "gunicorn.conf.py", nil, "KT880"),
		"KT880 warning /gunicorn.conf.py:2 | worker_class = \"gthread\" / threads = 4")
	confExpect(t, confLint(t, "gunicorn", map[string]string{"Procfile": "web: gunicorn --keep-alive 75 app:app\n"}, "Procfile", nil, "KT880"),
		"KT880 warning /Procfile:1 | --worker-class gthread --threads 4")
	// gthread (directly or through threads > 1) honours keepalive; without keepalive nothing to say.
	for _, conf := range []string{"keepalive = 75\nthreads = 2\n", "keepalive = 75\nworker_class = 'gevent'\n", "workers = 2\n"} {
		confExpect(t, confLint(t, "gunicorn", map[string]string{"gunicorn.conf.py": conf}, "gunicorn.conf.py", nil, "KT880"))
	}
}

const k8sManifest = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers: [{name: web, image: web}]
---
apiVersion: v1
kind: Pod
metadata: {name: partial}
spec:
  securityContext:
    sysctls:
      - {name: net.ipv4.tcp_keepalive_time, value: "600"}
  containers: [{name: p, image: p}]
---
apiVersion: v1
kind: Pod
metadata: {name: hostnet}
spec:
  hostNetwork: true
  securityContext:
    sysctls:
      - {name: net.ipv4.tcp_keepalive_time, value: "600"}
  containers: [{name: h, image: h}]
---
apiVersion: v1
kind: Pod
metadata: {name: done}
spec:
  securityContext:
    sysctls:
      - {name: net.ipv4.tcp_keepalive_time, value: "600"}
      - {name: net.ipv4.tcp_keepalive_intvl, value: "30"}
      - {name: net.ipv4.tcp_keepalive_probes, value: "5"}
  containers: [{name: d, image: d}]
`
