using System.Runtime.InteropServices;

namespace Fabric.Dataplane.Interop;

/// <summary>
/// The few Linux calls the dataplane needs that .NET does not expose: batched datagram I/O, epoll, eventfd, the TUN
/// driver and CPU affinity. Layouts are for 64-bit Linux (x86_64 and arm64).
/// </summary>
internal static unsafe partial class Libc
{
    private const string Lib = "libc";

    public const int EAGAIN = 11, EINTR = 4, ENOSYS = 38;
    public const int MSG_DONTWAIT = 0x40;
    public const int O_RDWR = 2, O_NONBLOCK = 0x800, O_CLOEXEC = 0x80000;
    public const int EFD_NONBLOCK = 0x800, EFD_CLOEXEC = 0x80000;
    public const int EPOLL_CLOEXEC = 0x80000;
    public const int EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2;
    public const uint EPOLLIN = 0x001;
    public const ushort AF_INET = 2;
    public const ulong TUNSETIFF = 0x400454ca;
    public const short IFF_TAP = 0x0002, IFF_NO_PI = 0x1000, IFF_VNET_HDR = 0x4000, IFF_MULTI_QUEUE = 0x0100;
    public const int SOL_SOCKET = 1, SO_REUSEPORT = 15;
    /// <summary>_IOW('T', 208, unsigned int): which offloads the TAP may hand us (and so which features the device shows).</summary>
    public const ulong TUNSETOFFLOAD = 0x400454d0;
    public const uint TUN_F_CSUM = 0x01, TUN_F_TSO4 = 0x02, TUN_F_TSO6 = 0x04, TUN_F_TSO_ECN = 0x08, TUN_F_USO4 = 0x20, TUN_F_USO6 = 0x40;
    public const int EIO = 5, EINVAL = 22, EMSGSIZE = 90, ENOPROTOOPT = 92;
    public const int SOL_UDP = 17, UDP_SEGMENT = 103, UDP_GRO = 104;
    /// <summary>CMSG_LEN(0): struct cmsghdr is a size_t length and two ints.</summary>
    public const int CmsgHeader = 16;

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec { public void* Base; public nuint Length; }

    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary>struct cmsghdr, followed by its data at <see cref="CmsgHeader"/>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct CmsgHdr { public nuint Length; public int Level; public int Type; }

    [StructLayout(LayoutKind.Sequential)]
    public struct MMsgHdr { public MsgHdr Header; public uint Length; }

    /// <summary>struct sockaddr_in: port and address in network byte order.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 16)]
    public struct SockAddrIn { public ushort Family; public ushort PortBE; public uint AddressBE; }

    [LibraryImport(Lib, SetLastError = true)] public static partial int recvmmsg(int fd, MMsgHdr* vec, uint vlen, int flags, void* timeout);
    [LibraryImport(Lib, SetLastError = true)] public static partial int sendmmsg(int fd, MMsgHdr* vec, uint vlen, int flags);
    [LibraryImport(Lib, SetLastError = true)] public static partial nint recvmsg(int fd, MsgHdr* msg, int flags);
    [LibraryImport(Lib, SetLastError = true)] public static partial nint sendmsg(int fd, MsgHdr* msg, int flags);
    [LibraryImport(Lib, SetLastError = true)] public static partial int epoll_create1(int flags);
    [LibraryImport(Lib, SetLastError = true)] public static partial int epoll_ctl(int epfd, int op, int fd, void* ev);
    [LibraryImport(Lib, SetLastError = true)] public static partial int epoll_wait(int epfd, void* events, int maxevents, int timeout);
    [LibraryImport(Lib, SetLastError = true)] public static partial int eventfd(uint initval, int flags);
    [LibraryImport(Lib, SetLastError = true)] public static partial nint read(int fd, void* buf, nuint count);
    [LibraryImport(Lib, SetLastError = true)] public static partial nint write(int fd, void* buf, nuint count);
    [LibraryImport(Lib, SetLastError = true)] public static partial nint writev(int fd, IoVec* iov, int iovcnt);
    [LibraryImport(Lib, SetLastError = true)] public static partial int setsockopt(int fd, int level, int name, void* value, uint length);
    [LibraryImport(Lib, SetLastError = true)] public static partial int getsockopt(int fd, int level, int name, void* value, uint* length);
    [LibraryImport(Lib, SetLastError = true)] public static partial int close(int fd);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] public static partial int open(string path, int flags);
    [LibraryImport(Lib, SetLastError = true)] public static partial int ioctl(int fd, ulong request, void* arg);
    [LibraryImport(Lib, SetLastError = true)] public static partial int sched_setaffinity(int pid, nuint size, ulong* mask);
    [LibraryImport(Lib)] public static partial int gettid();

    /// <summary>epoll_event is packed (12 bytes) on x86_64 and naturally aligned (16 bytes) elsewhere.</summary>
    public static readonly int EpollEventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;

    public static void WriteEpollEvent(byte* dst, uint events, ulong data)
    {
        *(uint*)dst = events;
        *(ulong*)(dst + (EpollEventSize == 12 ? 4 : 8)) = data;
    }

    public static ulong ReadEpollData(byte* ev) => *(ulong*)(ev + (EpollEventSize == 12 ? 4 : 8));

    public static int LastError => Marshal.GetLastPInvokeError();
}
