"""Attack: open every kind of socket that reaches a network or the kernel's
routing and packet layers. AF_UNIX (local IPC) is the control that must work."""

import socket

from probe import report


def open_socket(*args):
    socket.socket(*args).close()


def unix_pair():
    a, b = socket.socketpair(socket.AF_UNIX)
    a.close()
    b.close()


report("unix socketpair", unix_pair)
report("inet tcp", open_socket, socket.AF_INET, socket.SOCK_STREAM)
report("inet udp", open_socket, socket.AF_INET, socket.SOCK_DGRAM)
report("inet6 tcp", open_socket, socket.AF_INET6, socket.SOCK_STREAM)
report("inet6 udp", open_socket, socket.AF_INET6, socket.SOCK_DGRAM)
report("inet raw icmp", open_socket, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
report("inet raw tcp", open_socket, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
report("inet6 raw icmpv6", open_socket, socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
report("inet ping", open_socket, socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
report("netlink route", open_socket, socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
report("netlink audit", open_socket, socket.AF_NETLINK, socket.SOCK_RAW, 9)
report("packet raw", open_socket, socket.AF_PACKET, socket.SOCK_RAW, 0x0300)
report("packet dgram", open_socket, socket.AF_PACKET, socket.SOCK_DGRAM, 0x0300)
