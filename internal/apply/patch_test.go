package apply

import "testing"

func TestApplyUnified(t *testing.T) {
	orig := "http {\n    keepalive_timeout 75s;\n    server {\n        listen 80;\n    }\n}\n"
	diff := "--- /etc/nginx/nginx.conf\n+++ /etc/nginx/nginx.conf\n@@ -1,3 +1,4 @@\n http {\n-    keepalive_timeout 75s;\n+    keepalive_timeout 60s;\n+    keepalive_requests 1000;\n     server {\n@@ -5,2 +6,2 @@\n     }\n-}\n+} # edited\n"
	got, err := applyUnified([]byte(orig), diff)
	if err != nil {
		t.Fatal(err)
	}
	want := "http {\n    keepalive_timeout 60s;\n    keepalive_requests 1000;\n    server {\n        listen 80;\n    }\n} # edited\n"
	if string(got) != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	if !reverseApplies(got, diff) {
		t.Error("the applied diff does not reverse-apply to its result")
	}
	if reverseApplies([]byte(orig), diff) {
		t.Error("the diff reverse-applies to the original")
	}
	if _, err := applyUnified([]byte("http {\n    keepalive_timeout 30s;\n"), diff); err == nil {
		t.Error("a diff whose context changed applied")
	}
	if _, err := applyUnified([]byte(orig), "not a diff"); err == nil {
		t.Error("garbage applied")
	}
}
