/* blackhole — a TCP listener on 127.0.0.1 that never accepts, for connect time-out specs.
 *
 * It listens with a backlog of 0 and fills the accept queue with its own connections, so the
 * kernel drops further SYNs and a client's connect() hangs until the client's connect time-out.
 * Prints "PORT PID" on one line, then sleeps until killed or for at most argv[1] seconds. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int s = socket(AF_INET, SOCK_STREAM, 0), i, lifetime = argc > 1 ? atoi(argv[1]) : 30;
    if (s < 0) return 1;
    a.sin_family = AF_INET;
    a.sin_port = 0;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 0) != 0) return 1;
    if (getsockname(s, (struct sockaddr *)&a, &len) != 0) return 1;
    for (i = 0; i < 4; i++) { /* fill the queue */
        int c = socket(AF_INET, SOCK_STREAM, 0);
        if (c < 0) break;
        fcntl(c, F_SETFL, O_NONBLOCK);
        (void)connect(c, (struct sockaddr *)&a, sizeof a);
    }
    printf("%d %d\n", (int)ntohs(a.sin_port), (int)getpid());
    fflush(stdout);
    sleep((unsigned)(lifetime > 0 ? lifetime : 30));
    return 0;
}
