// Package nginx reads nginx configuration files: the main file and everything it includes,
// pure over an fs.FS, every value with the file and line it was written at.
//
// # Why a tokenizer of its own
//
// github.com/tufanbarisyildirim/gonginx was tried first (it is the Go nginx parser most often suggested) and
// rejected: it reads includes with os.Open and filepath.Glob, so it cannot parse over an fs.FS
// (tests with hand-built trees, an injected root); it reports a block's line as the line of its
// closing brace ("http" at the last line of the file); it accepts a stray "}" at the top level
// without an error, which nginx -t refuses; it fails on location regexes with escaped braces
// (location ~ ^/x\{3\}) that nginx accepts; and it reorders an upstream block's directives.
// nginx's syntax is small (ngx_conf_read_token in src/core/ngx_conf_file.c, about 250 lines of
// C), so lex.go follows it rule for rule: words end at whitespace, ";" or "{"; "#" starts a
// comment only where a word could start; quotes open only at a word's start; backslash escapes;
// "${var}" keeps its braces. Errors name file:line and what was expected, as nginx -t does.
//
// # Includes
//
// include paths are resolved as nginx resolves them: absolute paths as they are, relative ones
// against the directory of the main file (nginx's conf prefix, not the including file's
// directory). A path without *, ? or [ must name a readable file; a pattern may match nothing,
// and its matches are read in lexical order without hidden files (glob(3)). An include inside
// any block (http, server, types, map, upstream) is expanded in place. *_by_lua_block bodies
// (OpenResty) are skipped as Lua.
//
// # What the sides report
//
// Downstream (the client connections nginx accepts) is the http level as the default server
// inherits it: the first server with listen ... default_server, else the first server.
// keepalive_timeout gives the idle timeout (75 s by default; 0 disables keep-alive, reported as
// Pools false rather than as "no limit"), keepalive_time the lifetime cap (1 h), client_body_timeout
// the read timeout (60 s), and the server's listen ... so_keepalive= the TCP keepalive of accepted
// sockets (Linux copies it from the listening socket); values so_keepalive leaves out stay unknown
// with a source naming the host sysctl that supplies them.
//
// Upstream (the connections nginx opens to backends) is the first upstream block with keepalive N:
// it pools (idle timeout keepalive_timeout, 60 s by default; lifetime keepalive_time, 1 h) unless
// every location that passes requests to it defeats the pool (proxy_http_version 1.0, the default,
// or a Connection header of "close", the default); proxy_read_timeout and proxy_connect_timeout
// (or the grpc_/fastcgi_ ones) and proxy_socket_keepalive are read at the first location using it.
// Without such a block the side says no pooling: released nginx versions open a connection per
// request unless the upstream block has keepalive N. A file with several servers or pools can
// differ per block: the nginx rules look at each; the sides report one, as a chain hop needs.
//
// Without an http block, the stream module's first server is reported: proxy_timeout is the idle
// timeout on both sides. A file with server or upstream blocks at its top level and no http block
// (a conf.d or sites-enabled file read alone) is read as the inside of an http block.
package nginx
