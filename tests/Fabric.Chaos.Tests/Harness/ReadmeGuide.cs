using System.Text;
using System.Text.RegularExpressions;
using Fabric.Tests.Shared;

namespace Fabric.Chaos.Tests.Harness;

/// <summary>
/// The README's "Run on your own hosts" section as commands: every fenced <c>sh</c> block of the section, each a
/// <see cref="Block"/> whose first line, a comment, says where it runs (<c># on the database host</c>, <c># on your
/// machine</c>, <c># on each host</c>, <c># on host 198.51.100.11 (node-1): …</c>). The guide's tests run these commands,
/// so the test breaks when the README drifts; the parser itself is pure.
/// </summary>
public static partial class ReadmeGuide
{
    public const string Heading = "## Run on your own hosts";

    /// <summary>
    /// What the README names as placeholders for the reader to replace, which is also all a test may substitute:
    /// the hosts' and the database's addresses (kept as they are: the test's hosts use them), where the files live
    /// on a host, and where the binaries are installed.
    /// </summary>
    public const string HostsDir = "/etc/fabric";
    public const string InstallDir = "/opt/fabric";
    public const string DatabaseHost = "198.51.100.10";
    /// <summary>The hosts of the guide in order: node-1 … node-3, then node-4, the host it adds.</summary>
    public static readonly string[] Hosts = ["198.51.100.11", "198.51.100.12", "198.51.100.13", "198.51.100.14"];
    public const string UnitFile = "deploy/fabric-node.service";

    /// <summary>One fenced block: where it runs (its first comment, without "# on ") and its commands.</summary>
    public sealed record Block(string Where, IReadOnlyList<string> Commands)
    {
        /// <summary>The only command that starts with <paramref name="prefix"/>, or a failure naming the block.</summary>
        public string One(string prefix)
        {
            var found = Commands.Where(c => c.StartsWith(prefix, StringComparison.Ordinal)).ToArray();
            return found.Length == 1 ? found[0]
                : throw new Xunit.Sdk.XunitException($"the README block '# on {Where}' has {found.Length} commands starting with '{prefix}', wanted 1:\n{string.Join('\n', Commands)}");
        }

        public IEnumerable<string> All(string prefix) => Commands.Where(c => c.StartsWith(prefix, StringComparison.Ordinal));
    }

    public static string ReadmePath => Path.Combine(FabricBinary.RepositoryRoot(), "README.md");

    public static IReadOnlyList<Block> Load() => Parse(File.ReadAllText(ReadmePath));

    /// <summary>The blocks of the section, in order (fails when the section or its blocks are missing).</summary>
    public static IReadOnlyList<Block> Parse(string readme)
    {
        var lines = readme.ReplaceLineEndings("\n").Split('\n');
        var start = Array.FindIndex(lines, l => l.TrimEnd() == Heading);
        if (start < 0) throw new Xunit.Sdk.XunitException($"README.md has no '{Heading}' section");
        var end = Array.FindIndex(lines, start + 1, l => l.StartsWith("## ", StringComparison.Ordinal));
        if (end < 0) end = lines.Length;

        var blocks = new List<Block>();
        for (var i = start + 1; i < end; i++)
        {
            if (lines[i].Trim() != "```sh") continue;
            var body = new List<string>();
            for (i++; i < end && lines[i].Trim() != "```"; i++) body.Add(lines[i]);
            if (body.Count == 0 || Where().Match(body[0]) is not { Success: true } where)
                throw new Xunit.Sdk.XunitException($"a block of '{Heading}' does not start with '# on …' (where it runs):\n{string.Join('\n', body)}");
            blocks.Add(new Block(where.Groups[1].Value.Trim(), Commands(body.Skip(1))));
        }
        return blocks;
    }

    /// <summary>Commands of a block: comments (whole-line and trailing) removed, "\" continuations joined, blanks dropped.</summary>
    public static IReadOnlyList<string> Commands(IEnumerable<string> lines)
    {
        var commands = new List<string>();
        var current = new StringBuilder();
        foreach (var raw in lines)
        {
            var line = StripComment(raw).TrimEnd();
            if (line.EndsWith('\\'))
            {
                current.Append(line[..^1].Trim()).Append(' ');
                continue;
            }
            current.Append(line.Trim());
            var command = current.ToString().Trim();
            current.Clear();
            if (command.Length > 0) commands.Add(command);
        }
        if (current.Length > 0) commands.Add(current.ToString().Trim());
        return commands;
    }

    /// <summary>The line without a comment: a '#' at its start or after a blank, outside quotes.</summary>
    public static string StripComment(string line)
    {
        char? quote = null;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quote is { } q) { if (c == q) quote = null; continue; }
            if (c is '\'' or '"') { quote = c; continue; }
            if (c == '#' && (i == 0 || char.IsWhiteSpace(line[i - 1]))) return line[..i];
        }
        return line;
    }

    /// <summary>The <c>ExecStart=</c> of the unit under deploy/.</summary>
    public static string UnitExecStart()
    {
        var unit = File.ReadAllLines(Path.Combine(FabricBinary.RepositoryRoot(), UnitFile));
        var exec = unit.Where(l => l.StartsWith("ExecStart=", StringComparison.Ordinal)).ToArray();
        if (exec.Length != 1) throw new Xunit.Sdk.XunitException($"{UnitFile} has {exec.Length} ExecStart= lines, wanted 1");
        return exec[0]["ExecStart=".Length..].Trim();
    }

    /// <summary>The values of <paramref name="key"/>= in the unit's [Service] section (e.g. "CapabilityBoundingSet").</summary>
    public static IReadOnlyList<string> UnitValues(string key)
        => File.ReadAllLines(Path.Combine(FabricBinary.RepositoryRoot(), UnitFile))
            .Where(l => l.StartsWith(key + "=", StringComparison.Ordinal)).Select(l => l[(key.Length + 1)..].Trim()).ToArray();

    [GeneratedRegex(@"^\s*#\s*on\s+(.+)$")]
    private static partial Regex Where();
}
