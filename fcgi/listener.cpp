#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "fcgi/pool.h"

namespace inkstone::fcgi {
namespace {

std::runtime_error SysError(const std::string& what) {
    return std::runtime_error(what + ": " + std::strerror(errno));
}

bool IsTcp(const std::string& listen) {
    return listen.find('/') == std::string::npos && listen.find(':') != std::string::npos;
}

void MakeParentDirs(const std::string& path) {
    for (size_t pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1)) {
        std::string dir = path.substr(0, pos);
        if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) throw SysError("mkdir " + dir);
    }
}

int BindUnix(const std::string& path, int backlog) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path))
        throw std::runtime_error("socket path too long: " + path);
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    MakeParentDirs(path);

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw SysError("socket");
    struct stat st {};
    if (lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            close(fd);
            throw std::runtime_error(path + " exists and is not a socket");
        }
        // A socket file nobody listens on is left over from a crash: replace it.
        if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
            close(fd);
            throw std::runtime_error("another server is listening on " + path);
        }
        close(fd);
        unlink(path.c_str());
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) throw SysError("socket");
    }
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        throw SysError("bind " + path);
    }
    // nginx runs as the same user (or root) in make run; operators set group access themselves.
    if (chmod(path.c_str(), 0660) != 0) {
        close(fd);
        throw SysError("chmod " + path);
    }
    if (listen(fd, backlog) != 0) {
        close(fd);
        throw SysError("listen " + path);
    }
    return fd;
}

int BindTcp(const std::string& spec, int backlog) {
    size_t colon = spec.rfind(':');
    std::string host = spec.substr(0, colon);
    std::string port = spec.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* result = nullptr;
    int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &result);
    if (rc != 0) throw std::runtime_error("bad listen address " + spec + ": " + gai_strerror(rc));
    int fd = socket(result->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(result);
        throw SysError("socket");
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, result->ai_addr, result->ai_addrlen) != 0 || listen(fd, backlog) != 0) {
        int saved = errno;
        freeaddrinfo(result);
        close(fd);
        errno = saved;
        throw SysError("bind/listen " + spec);
    }
    freeaddrinfo(result);
    return fd;
}

}  // namespace

int BindListener(const std::string& listen, int backlog) {
    int fd = IsTcp(listen) ? BindTcp(listen, backlog) : BindUnix(listen, backlog);
    // Non-blocking: every thread waits in epoll (EPOLLEXCLUSIVE) and a thread that loses the
    // race for a connection gets EAGAIN from accept instead of blocking where shutdown
    // cannot reach it.
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        close(fd);
        throw SysError("fcntl O_NONBLOCK");
    }
    return fd;
}

}  // namespace inkstone::fcgi
