namespace Fabric.Actors.Tests.Support;

/// <summary>A folder under the system temp dir, removed on dispose.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir(string? hint = null)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"fabric-{hint ?? "test"}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string DbFile => System.IO.Path.Combine(Path, "fabric.db");

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
