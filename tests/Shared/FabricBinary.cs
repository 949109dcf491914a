namespace Fabric.Tests.Shared;

/// <summary>Where the built <c>fabric</c> executable and the repository are, seen from a test's output folder.</summary>
public static class FabricBinary
{
    /// <summary>The apphost built by src/Nodes in the same configuration as the running tests.</summary>
    public static string Path()
    {
        var baseDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(System.IO.Path.DirectorySeparatorChar));
        var tfm = baseDir.Name;
        var configuration = baseDir.Parent!.Name;
        var path = System.IO.Path.Combine(RepositoryRoot(), "src", "Nodes", "bin", configuration, tfm, "fabric");
        return File.Exists(path) ? path : throw new InvalidOperationException($"{path} does not exist: build src/Nodes -c {configuration} first");
    }

    /// <summary>The folder that holds Fabric.sln.</summary>
    public static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(System.IO.Path.Combine(d.FullName, "Fabric.sln"))) return d.FullName;
        throw new InvalidOperationException($"no Fabric.sln above {AppContext.BaseDirectory}");
    }
}
