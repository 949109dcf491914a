namespace Fabric.Dataplane.Packets;

/// <summary>Why a reader refused its input. Readers never throw: they name the failure.</summary>
public enum PacketError : byte
{
    None = 0,
    Truncated,
    BadVersion,
    BadHeaderLength,
    BadTotalLength,
    BadChecksum,
    UnsupportedArpFormat,
    UnsupportedArpOperation,
    VxlanFlagNotSet,
    BadLength,
}
