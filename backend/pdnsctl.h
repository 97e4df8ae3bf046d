/* SPDX-License-Identifier: MIT */
/* A client for the PowerDNS Authoritative control socket, the one pdns_control talks to
 * (<socket-dir>/pdns.controlsocket): it lets the daemon ask pdns to rediscover zones or purge
 * cached answers. Part of the I/O shell: it connects, writes and waits (bounded).
 *
 * The protocol (pdns 4.7 dynlistener.cc and dynmessenger.cc, checked against pdns_server 4.7.3):
 * one command per connection. The client writes the command and "\n"; pdns writes its reply text
 * (no header, no length, no status, usually no trailing newline) and closes. So pdns_control
 * judges by the text: a reply starting "Unknown" ("Unknown command: 'X'") is a failure, anything
 * else, even "syntax: notify zone", is printed with exit status 0. This module applies the same
 * rule; callers check command-specific text themselves (rediscover answers "Ok ...").
 *
 * pdns never answers, nor closes, a connection whose command throws inside pdns (a malformed
 * name: "purge ..bad$", "bind-reload-now ..bad"); under --guardian=yes the whole control socket
 * then stays stuck. Hence the timeout, and callers should send only names pdns can parse. pdns
 * serves one connection at a time; this client holds it only for one command. */
#pragma once

#include "common/errbuf.h"
#include "common/sbuf.h"

/* The socket's name inside --socket-dir (pdns with --config-name=X uses pdns-X.controlsocket). */
#define PDNSCTL_SOCKET_NAME "pdns.controlsocket"
/* Longest command: pdns reads the line with fgets into 1024000 bytes, newline included. */
#define PDNSCTL_COMMAND_MAX 1023998u
/* Longest reply accepted; list-zones on a server with many zones is the longest there is. */
#define PDNSCTL_REPLY_MAX (8u << 20)

/* Sets out to the socket path for arg: "<arg>/pdns.controlsocket" when arg is a directory (a
 * --socket-dir value) or ends in '/', else arg itself (the socket file, or a path that does not
 * exist yet, which pdnsctl_command() then reports). */
void pdnsctl_socket_path(const char *arg, struct sbuf *out);

/* Sends one command ("rediscover", "purge example.com$") to the control socket at path and sets
 * *reply to pdns's reply text, trailing newlines removed. Returns 0 when pdns accepted the
 * command; else a negative errno with a message naming the socket: -EINVAL (an empty command,
 * a control character, too long; nothing is sent), -ENAMETOOLONG (path does not fit a unix
 * socket address), -ENOENT, -EACCES, -ECONNREFUSED (nothing listens: pdns stopped and left its
 * socket), -ETIMEDOUT (no connection or no complete reply within timeout_ms, counted from the
 * call), -EPIPE or -ECONNRESET (closed before reading the command), -EMSGSIZE (reply over
 * PDNSCTL_REPLY_MAX), -EIO (pdns rejected the command; *reply holds its words). */
int pdnsctl_command(
    const char *path, const char *command, int timeout_ms, struct sbuf *reply, struct errbuf *err);
