# A stand-in for systemd's NOTIFY_SOCKET (packaging/walkthrough/guide.sh): prints each datagram.
import os, socket, sys
path = sys.argv[1]
try: os.unlink(path)
except FileNotFoundError: pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o777)
while True:
    msg = s.recv(4096).decode()
    print(msg.replace("\n", " | "), flush=True)
