using System.Collections.Frozen;
using Hyperion;

namespace Fabric.Actors.Serialization;

/// <summary>
/// The types <see cref="HyperionSerializer"/> may materialise. Hyperion asks before it resolves a type
/// named in a payload, so a refused name is never loaded, let alone instantiated.
/// </summary>
/// <remarks>
/// Allowed: types of our own assemblies inside our namespaces (<c>Fabric.Actors…</c> in Fabric.Actors,
/// <c>Fabric.Dataplane…</c> in Fabric.Dataplane), and a short list of BCL value and collection types,
/// with every generic argument and array element checked the same way. Everything else is refused,
/// including every type of a test or tool assembly that happens to use a Fabric namespace.
/// </remarks>
public sealed class TypeAllowList : ITypeFilter
{
    /// <summary>Our assemblies and the namespace prefix each may contribute.</summary>
    private static readonly FrozenDictionary<string, string> OwnAssemblies = new Dictionary<string, string>
    {
        ["Fabric.Actors"] = "Fabric.Actors",
        ["Fabric.Dataplane"] = "Fabric.Dataplane",
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>BCL types that carry data and nothing else (Hyperion writes its primitives without a name at all).</summary>
    private static readonly FrozenSet<string> BclTypes = new[]
    {
        "System.String", "System.Boolean", "System.Byte", "System.SByte", "System.Char",
        "System.Int16", "System.UInt16", "System.Int32", "System.UInt32", "System.Int64", "System.UInt64",
        "System.Single", "System.Double", "System.Decimal", "System.Guid",
        "System.DateTime", "System.DateTimeOffset", "System.TimeSpan", "System.DateOnly", "System.TimeOnly",
        "System.Nullable`1",
        "System.Collections.Generic.List`1",
        "System.Collections.Generic.Dictionary`2",
        "System.Collections.Generic.HashSet`1",
        "System.Collections.Generic.KeyValuePair`2",
        "System.Collections.Immutable.ImmutableArray`1",
        "System.Collections.Immutable.ImmutableList`1",
        "System.Collections.Immutable.ImmutableDictionary`2",
        "System.Collections.Immutable.ImmutableHashSet`1",
        "System.Collections.Immutable.ImmutableSortedDictionary`2",
        "System.Collections.Immutable.ImmutableSortedSet`1",
    }.ToFrozenSet(StringComparer.Ordinal);

    /// <summary>Assemblies the BCL types above may come from (Hyperion writes the core library as "%core%").</summary>
    private static readonly FrozenSet<string> BclAssemblies = new[]
    {
        "%core%", "System.Private.CoreLib", "mscorlib", "System.Runtime", "System.Collections", "System.Collections.Immutable",
    }.ToFrozenSet(StringComparer.Ordinal);

    public static readonly TypeAllowList Instance = new();

    /// <summary>Called by Hyperion with the (version-stripped) assembly-qualified name read from a payload.</summary>
    public bool IsAllowed(string typeName)
    {
        if (IsAllowedName(typeName, out var reason)) return true;
        throw new RefusedTypeException(typeName, reason);
    }

    /// <summary>Pure check, for callers (and tests) that want a verdict instead of an exception.</summary>
    public static bool IsAllowedName(string typeName, out string reason)
    {
        TypeName parsed;
        try
        {
            var reader = new TypeNameReader(typeName);
            parsed = reader.ReadQualified();
            reader.ExpectEnd();
        }
        catch (FormatException e)
        {
            reason = $"the type name cannot be parsed ({e.Message})";
            return false;
        }
        return IsAllowed(parsed, out reason);
    }

    private static bool IsAllowed(TypeName t, out string reason)
    {
        var assembly = t.Assembly ?? "";
        var ok = OwnAssemblies.TryGetValue(assembly, out var ns)
            ? t.FullName == ns || t.FullName.StartsWith(ns + ".", StringComparison.Ordinal)
            : BclAssemblies.Contains(assembly) && BclTypes.Contains(t.FullName);
        if (!ok)
        {
            reason = $"{t.FullName} from assembly '{assembly}' is not on the allow-list";
            return false;
        }
        foreach (var arg in t.GenericArguments)
            if (!IsAllowed(arg, out reason)) return false;
        reason = "";
        return true;
    }

    /// <summary>A parsed type name: <c>Ns.Type`1+Nested[[Arg, Asm]][], Assembly</c>.</summary>
    private sealed record TypeName(string FullName, IReadOnlyList<TypeName> GenericArguments, string? Assembly);

    /// <summary>Reads the assembly-qualified type name grammar of <see cref="Type.AssemblyQualifiedName"/>.</summary>
    private ref struct TypeNameReader(string text)
    {
        private readonly string _text = text;
        private int _pos;

        public TypeName ReadQualified()
        {
            var name = ReadName();
            var args = new List<TypeName>();
            // generic arguments: [[A, AsmA],[B, AsmB]]
            if (Peek('[') && PeekAt(1, '['))
            {
                _pos++;
                do
                {
                    Expect('[');
                    args.Add(ReadQualified());
                    Expect(']');
                } while (TryTake(','));
                Expect(']');
            }
            // array ranks: [] or [,] (any number of them); pointers and by-refs are refused by the grammar
            while (Peek('['))
            {
                _pos++;
                while (TryTake(',')) { }
                Expect(']');
            }
            string? assembly = null;
            if (TryTake(','))
            {
                // the assembly's display name runs to the closing bracket (or the end); its simple name is
                // the part before any ", Version=..., Culture=..., PublicKeyToken=..."
                var start = _pos;
                while (_pos < _text.Length && _text[_pos] != ']') _pos++;
                var display = _text[start.._pos];
                var comma = display.IndexOf(',');
                assembly = (comma < 0 ? display : display[..comma]).Trim();
                if (assembly.Length == 0) throw new FormatException("empty assembly name");
            }
            return new TypeName(name, args, assembly);
        }

        public void ExpectEnd()
        {
            if (_pos != _text.Length) throw new FormatException($"unexpected '{_text[_pos]}' at {_pos}");
        }

        private string ReadName()
        {
            while (_pos < _text.Length && _text[_pos] == ' ') _pos++;
            var start = _pos;
            while (_pos < _text.Length && (char.IsLetterOrDigit(_text[_pos]) || _text[_pos] is '.' or '_' or '`' or '+' or '<' or '>' or '$'))
                _pos++;
            if (_pos == start) throw new FormatException($"expected a type name at {start}");
            return _text[start.._pos];
        }

        private readonly bool Peek(char c) => _pos < _text.Length && _text[_pos] == c;
        private readonly bool PeekAt(int offset, char c) => _pos + offset < _text.Length && _text[_pos + offset] == c;

        private bool TryTake(char c)
        {
            if (!Peek(c)) return false;
            _pos++;
            return true;
        }

        private void Expect(char c)
        {
            if (!TryTake(c)) throw new FormatException($"expected '{c}' at {_pos}");
        }
    }
}

/// <summary>A payload named a type outside <see cref="TypeAllowList"/>; nothing was instantiated.</summary>
public sealed class RefusedTypeException(string typeName, string reason)
    : System.Runtime.Serialization.SerializationException(
        $"Refused to deserialize type '{typeName}': {reason}. Only Fabric message types and plain BCL data types are accepted.")
{
    public string TypeName { get; } = typeName;
}
