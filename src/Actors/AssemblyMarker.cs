namespace Fabric.Actors; internal static class AssemblyMarker { }
