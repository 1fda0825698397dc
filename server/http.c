/* http.c - libmicrohttpd glue: bodies in, responses out, nothing else.
 *
 * MHD runs one thread per connection. Those threads collect the body (up to
 * --max-body-bytes; past that the bytes are dropped and the request answers
 * 413), hand a plain http_request to routes.c, and turn its http_response
 * into an MHD response. Blocking in routes_handle (waiting for the
 * scheduler) is why thread-per-connection was chosen over MHD's single
 * polling thread: a waiting client holds only its own thread.
 *
 * A body whose Content-Length already says it is too large is refused before
 * any of it is read, so a client cannot make the server swallow gigabytes.
 *
 * Slow clients: MHD closes a connection idle for --timeout seconds (stalled
 * headers, a stalled body, an idle keep-alive), and a body that trickles in
 * but takes longer than --timeout in all has its connection closed (counted
 * as 408 in /metrics: MHD cannot send a response while a body is still
 * arriving), so a client cannot hold a thread by sending a byte now and then.
 * Headers are bounded by MHD's per-connection memory limit, so they cannot
 * trickle for long either.
 *
 * Keep-alive: a connection is closed ("Connection: close" on its answer)
 * after --keepalive-requests answers, as nginx and Apache do. With a thread
 * per connection this is what keeps memory flat: glibc gives each thread a
 * cache of freed small chunks (tcache, up to 7 per size class), which a
 * long-lived thread fills slowly as it meets requests of new sizes. Under
 * 64 keep-alive clients RSS crept 35 -> 42 MB in 60 s without a live byte
 * more on the heap (heaptrack); recycling threads every 100 answers made it
 * flat, and clients reconnect transparently.
 *
 * Gone clients: while a request waits for the model, the scheduler asks
 * client_gone() every 100 ms; it peeks at the socket for the peer's hang-up,
 * and the scheduler then drops the job if it has not started. */
#include "http.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"
#include "routes.h"

struct http_server {
    struct MHD_Daemon *daemon;
    server *srv;
    atomic_int active; /* requests begun and not yet fully answered */
};

/* Per TCP connection (MHD's socket context), unlike connection_state,
 * which is per request. */
typedef struct socket_state {
    int answers;
} socket_state;

typedef struct connection_state {
    char *body;
    size_t len, cap;
    int too_large;
    int answered;
    double start;
    struct MHD_Connection *connection;
} connection_state;

/* Hang-up or error on the client's socket. POLLRDHUP is the peer's FIN even
 * when unread bytes (a pipelined request) are still waiting. */
static int client_gone(void *ctx) {
    connection_state *st = ctx;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(st->connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!info)
        return 0;
    struct pollfd p = {.fd = info->connect_fd, .events = POLLIN | POLLRDHUP};
    if (poll(&p, 1, 0) <= 0)
        return 0;
    return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

static int append_body(connection_state *st, const char *data, size_t n, size_t limit) {
    if (st->too_large)
        return 1;
    if (n > limit - st->len) {
        st->too_large = 1;
        free(st->body);
        st->body = NULL;
        st->len = st->cap = 0;
        return 1;
    }
    if (st->len + n + 1 > st->cap) {
        size_t cap = st->cap ? st->cap : 4096;
        while (cap < st->len + n + 1)
            cap *= 2;
        char *grown = realloc(st->body, cap);
        if (!grown)
            return 0;
        st->body = grown;
        st->cap = cap;
    }
    memcpy(st->body + st->len, data, n);
    st->len += n;
    st->body[st->len] = '\0';
    return 1;
}

static enum MHD_Result answer(server *srv, struct MHD_Connection *c, const char *url,
                              const char *method, connection_state *st) {
    if (st->answered)
        return MHD_YES;
    st->answered = 1;
    http_request req = {
        .method = method,
        .path = url,
        .authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
        .body = st->body ? st->body : "",
        .body_len = st->len,
        .body_too_large = st->too_large,
        .client_gone = client_gone,
        .client_ctx = st,
    };
    http_response resp = {0};
    routes_handle(srv, &req, &resp);

    struct MHD_Response *r = MHD_create_response_from_buffer(
        resp.len, resp.body, resp.body_is_static ? MHD_RESPMEM_PERSISTENT : MHD_RESPMEM_MUST_FREE);
    if (!r) {
        if (!resp.body_is_static)
            free(resp.body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", resp.content_type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (resp.allow)
        MHD_add_response_header(r, "Allow", resp.allow);
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    socket_state *sock = ci ? ci->socket_context : NULL;
    if (sock && ++sock->answers >= srv->cfg.keepalive_requests)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    if (resp.status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)resp.status, r);
    MHD_destroy_response(r);
    metrics_request(srv->metrics, resp.route, resp.status, server_now() - st->start);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    http_server *h = cls;
    server *srv = h->srv;
    connection_state *st = *con_cls;
    if (!st) {
        st = calloc(1, sizeof(*st));
        if (!st)
            return MHD_NO;
        st->start = server_now();
        st->connection = c;
        *con_cls = st;
        atomic_fetch_add(&h->active, 1);
        const char *declared = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (declared) {
            errno = 0;
            char *end;
            unsigned long long n = strtoull(declared, &end, 10);
            if (errno || end == declared || n > srv->cfg.max_body_bytes) {
                st->too_large = 1;
                return answer(srv, c, url, method, st);
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (server_now() - st->start > (double)srv->cfg.timeout_s) {
            metrics_request(srv->metrics, "other", 408, server_now() - st->start);
            return MHD_NO; /* closes the connection */
        }
        if (!append_body(st, upload_data, *upload_data_size, srv->cfg.max_body_bytes))
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    return answer(srv, c, url, method, st);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    http_server *h = cls;
    connection_state *st = *con_cls;
    if (st) {
        free(st->body);
        free(st);
        *con_cls = NULL;
        atomic_fetch_sub(&h->active, 1);
    }
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    (void)cls;
    (void)c;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = calloc(1, sizeof(socket_state)); /* NULL: never closed early */
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        free(*socket_context);
        *socket_context = NULL;
    }
}

int http_start(server *srv, http_server **out, int *bound_port, char *why, size_t why_size) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *addrs = NULL;
    char port[16];
    snprintf(port, sizeof(port), "%d", srv->cfg.port);
    int gai = getaddrinfo(srv->cfg.host, port, &hints, &addrs);
    if (gai != 0 || !addrs) {
        snprintf(why, why_size, "cannot resolve --host %s: %s", srv->cfg.host, gai_strerror(gai));
        return -1;
    }
    http_server *h = calloc(1, sizeof(*h));
    if (!h) {
        freeaddrinfo(addrs);
        snprintf(why, why_size, "out of memory");
        return -1;
    }
    h->srv = srv;
    atomic_init(&h->active, 0);
    /* MHD_USE_ITC lets http_stop quiesce the listening socket first. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (addrs->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->daemon = MHD_start_daemon(
        flags, (uint16_t)srv->cfg.port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
        addrs->ai_addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)512, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)srv->cfg.timeout_s,
        MHD_OPTION_END);
    freeaddrinfo(addrs);
    if (!h->daemon) {
        free(h);
        snprintf(why, why_size, "cannot listen on %s:%d (is the port in use?)", srv->cfg.host,
                 srv->cfg.port);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    *bound_port = info && info->port ? info->port : srv->cfg.port;
    *out = h;
    return 0;
}

void http_stop(http_server *h) {
    if (!h)
        return;
    /* MHD_stop_daemon closes every connection at once, even one whose answer is
     * still being written; so first stop accepting, then let the requests that
     * are under way finish sending (bounded, in case a client stops reading). */
    MHD_socket listener = MHD_quiesce_daemon(h->daemon);
    for (int waited_ms = 0; atomic_load(&h->active) > 0 && waited_ms < 10000; waited_ms += 10) {
        struct timespec tick = {0, 10 * 1000 * 1000};
        nanosleep(&tick, NULL);
    }
    MHD_stop_daemon(h->daemon);
    if (listener != MHD_INVALID_SOCKET)
        close(listener);
    free(h);
}
