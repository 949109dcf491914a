using System.Collections;
using System.Collections.Immutable;
using System.Reflection;
using System.Text.RegularExpressions;
using Akka.Actor;
using Hyperion;
using TypeFilter = Hyperion.TypeFilter;

namespace Fabric.Actors.Serialization;

/// <summary>
/// The types <see cref="FabricHyperionSerializer"/> may materialise: a <see cref="TypeFilter"/> built with Hyperion's
/// <see cref="TypeFilterBuilder"/>. Hyperion checks each type name a payload carries against it before loading the
/// type, so anything else is never loaded, let alone constructed.
/// </summary>
/// <remarks>
/// Hyperion's filter matches exact (closed) type names, so the list is derived from the messages themselves rather
/// than written by hand: every <see cref="IFabricMessage"/> of our assemblies (and an array of it, as a reply may be),
/// and every type their fields can hold,
/// recursively. A field of one of our abstract types admits its concrete subtypes in our own namespaces; a
/// collection field admits the BCL collections that implement it (for <c>IReadOnlyList&lt;T&gt;</c>: <c>T[]</c>,
/// <c>List&lt;T&gt;</c>, the immutable lists and the compiler's collection-expression lists), and a dictionary its
/// <c>KeyValuePair</c> and <c>DictionaryEntry</c> (Hyperion writes a <c>Dictionary</c>'s entries as the latter), each
/// closed over the element types the message declares. Actor references travel as Akka's surrogate. Nothing else of
/// our assemblies (actors, engines, sockets) and no other BCL type is admitted.
/// <para>
/// This class only adds one thing to the package's filter: Hyperion 0.12.2 also asks the filter before it
/// <em>serializes</em> a message, with the type's full name (<c>…, Version=1.0.0.0, Culture=neutral,
/// PublicKeyToken=null</c>), while <see cref="TypeFilter"/> compares the short names written on the wire; so the
/// name is shortened the way Hyperion shortens it before it is compared (without that, no message could be sent).
/// </para>
/// </remarks>
public sealed class FabricTypeFilter : ITypeFilter
{
    /// <summary>Our assemblies and the namespace each may contribute.</summary>
    private static readonly (Assembly Assembly, string Namespace)[] Own =
    [
        (typeof(IFabricMessage).Assembly, "Fabric.Actors"),
        (typeof(Dataplane.Packets.MacAddress).Assembly, "Fabric.Dataplane"),
    ];

    // The generic collections a field may be declared as (before Types: static fields initialise in order).
    private static readonly HashSet<Type> Lists =
    [
        typeof(IEnumerable<>), typeof(IReadOnlyCollection<>), typeof(IReadOnlyList<>), typeof(ICollection<>), typeof(IList<>),
        typeof(List<>), typeof(ImmutableList<>), typeof(ImmutableArray<>), typeof(IImmutableList<>),
    ];

    private static readonly HashSet<Type> Sets =
    [
        typeof(ISet<>), typeof(IReadOnlySet<>), typeof(HashSet<>), typeof(ImmutableHashSet<>), typeof(ImmutableSortedSet<>), typeof(IImmutableSet<>),
    ];

    private static readonly HashSet<Type> Dictionaries =
    [
        typeof(IDictionary<,>), typeof(IReadOnlyDictionary<,>), typeof(Dictionary<,>), typeof(ImmutableDictionary<,>),
        typeof(ImmutableSortedDictionary<,>), typeof(IImmutableDictionary<,>),
    ];

    /// <summary>Every type a Fabric payload may name.</summary>
    public static IReadOnlySet<Type> Types { get; } = Collect();

    public static FabricTypeFilter Instance { get; } = new(Types);

    private readonly TypeFilter _filter;

    private FabricTypeFilter(IEnumerable<Type> types)
    {
        var builder = TypeFilterBuilder.Create();
        foreach (var t in types.OrderBy(t => t.AssemblyQualifiedName, StringComparer.Ordinal)) builder.Include(t);
        _filter = builder.Build();
    }

    /// <summary>The short names the filter admits, as Hyperion writes them.</summary>
    public IReadOnlySet<string> Names => _filter.FilteredTypes;

    public bool IsAllowed(string typeName) => _filter.IsAllowed(Short(typeName));

    private static readonly string CoreAssembly = CoreAssemblySuffix();

    private static string CoreAssemblySuffix()
    {
        var name = typeof(int).AssemblyQualifiedName!;
        return name[name.IndexOf(", Version", StringComparison.Ordinal)..];
    }

    private static readonly Regex AssemblyDetails = new(
        @"(, Version=([\d\.]+))?(, Culture=[^,\] \t]+)?(, PublicKeyToken=(null|[\da-f]+))?",
        RegexOptions.Compiled | RegexOptions.CultureInvariant | RegexOptions.IgnoreCase);

    /// <summary>A type name as Hyperion writes it: the core library as <c>%core%</c>, no version, culture or key.</summary>
    public static string Short(string typeName) => AssemblyDetails.Replace(typeName.Replace(CoreAssembly, ",%core%", StringComparison.Ordinal), "");

    private static HashSet<Type> Collect()
    {
        var found = new HashSet<Type>();
        var pending = new Queue<Type>();
        var ownConcrete = Own.SelectMany(o => o.Assembly.GetTypes().Where(t => InOwnNamespace(t) && IsConcrete(t))).ToArray();
        foreach (var t in ownConcrete.Where(t => typeof(IFabricMessage).IsAssignableFrom(t)))
        {
            pending.Enqueue(t);
            // A reply may be an array of messages (the alarm views answer AddressConflictAlarm[], DuplicateMacAlarm[]).
            pending.Enqueue(t.MakeArrayType());
        }

        void Admit(Type t)
        {
            if (found.Add(t)) pending.Enqueue(t);
        }

        while (pending.Count > 0)
        {
            var type = pending.Dequeue();
            found.Add(type);
            // Only our own types are walked: a BCL collection is admitted for what it holds (its type arguments,
            // handled in Holdable), not for its private innards, which Hyperion does not write by name.
            if (!IsOwn(type)) continue;
            for (var t = type; t is not null && t != typeof(object) && t != typeof(ValueType); t = t.BaseType)
                foreach (var f in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                    foreach (var admitted in Holdable(f.FieldType, ownConcrete))
                        Admit(admitted);
        }
        return found;
    }

    /// <summary>The runtime types a field declared as <paramref name="declared"/> may hold (or name inside it).</summary>
    private static IEnumerable<Type> Holdable(Type declared, Type[] ownConcrete)
    {
        if (declared.IsPointer || declared.IsByRef || typeof(Delegate).IsAssignableFrom(declared) || declared == typeof(Type)) yield break;
        if (declared == typeof(object)) yield break; // no Fabric message has one; nothing is admitted through it
        if (declared.IsArray)
        {
            yield return declared;
            foreach (var t in Holdable(declared.GetElementType()!, ownConcrete)) yield return t;
            yield break;
        }
        if (typeof(IActorRef).IsAssignableFrom(declared))
        {
            // ISurrogated: Akka.Serialization.Hyperion writes an actor reference as its surrogate (the path).
            yield return typeof(ActorRefBase.Surrogate);
            yield break;
        }
        if (IsOwn(declared))
        {
            if (IsConcrete(declared)) yield return declared;
            else
                foreach (var t in ownConcrete.Where(declared.IsAssignableFrom))
                    yield return t;
            yield break;
        }
        if (!declared.IsGenericType)
        {
            if (declared.IsPrimitive || declared.IsEnum || declared == typeof(string) || declared == typeof(decimal) || declared == typeof(Guid)
                || declared == typeof(DateTime) || declared == typeof(DateTimeOffset) || declared == typeof(TimeSpan)
                || declared == typeof(DateOnly) || declared == typeof(TimeOnly))
                yield return declared;
            // any other BCL type (a Stream, a Process...) is not data and admits nothing
            yield break;
        }

        var args = declared.GetGenericArguments();
        foreach (var arg in args)
            foreach (var t in Holdable(arg, ownConcrete))
                yield return t;
        foreach (var collection in Collections(declared.GetGenericTypeDefinition(), args))
            yield return collection;
    }

    /// <summary>The BCL data types (closed over <paramref name="args"/>) that a field of generic type <paramref name="definition"/> may hold.</summary>
    private static IEnumerable<Type> Collections(Type definition, Type[] args)
    {
        if (definition == typeof(Nullable<>))
            return [typeof(Nullable<>).MakeGenericType(args)];
        if (args.Length == 1 && Lists.Contains(definition))
        {
            var t = args[0];
            return
            [
                t.MakeArrayType(), typeof(List<>).MakeGenericType(t), typeof(ImmutableList<>).MakeGenericType(t),
                typeof(ImmutableArray<>).MakeGenericType(t), .. CollectionExpressionLists(t),
            ];
        }
        if (args.Length == 1 && Sets.Contains(definition))
            return [typeof(HashSet<>).MakeGenericType(args), typeof(ImmutableHashSet<>).MakeGenericType(args), typeof(ImmutableSortedSet<>).MakeGenericType(args)];
        if (args.Length == 2 && Dictionaries.Contains(definition))
            return
            [
                typeof(Dictionary<,>).MakeGenericType(args), typeof(ImmutableDictionary<,>).MakeGenericType(args),
                typeof(ImmutableSortedDictionary<,>).MakeGenericType(args), typeof(KeyValuePair<,>).MakeGenericType(args),
                typeof(DictionaryEntry),
            ];
        if (args.Length == 2 && definition == typeof(KeyValuePair<,>))
            return [typeof(KeyValuePair<,>).MakeGenericType(args)];
        return []; // any other generic BCL type admits nothing
    }

    /// <summary>
    /// What C# makes of <c>[a, b]</c> for an <c>IReadOnlyList&lt;T&gt;</c>: classes it emits into the assembly that
    /// uses the expression (global namespace, e.g. <c>&lt;&gt;z__ReadOnlyArray`1</c>), holding an array or one item.
    /// </summary>
    private static IEnumerable<Type> CollectionExpressionLists(Type element)
        => Own.SelectMany(o => o.Assembly.GetTypes())
            .Where(t => t.Namespace is null && t.IsGenericTypeDefinition && t.GetGenericArguments().Length == 1
                && t.Name.StartsWith("<>z__ReadOnly", StringComparison.Ordinal))
            .Select(t => t.MakeGenericType(element));

    private static bool IsOwn(Type t) => Own.Any(o => o.Assembly == t.Assembly) && InOwnNamespace(t);

    private static bool InOwnNamespace(Type t)
        => Own.Any(o => o.Assembly == t.Assembly && t.Namespace is { } ns && (ns == o.Namespace || ns.StartsWith(o.Namespace + ".", StringComparison.Ordinal)));

    private static bool IsConcrete(Type t) => !t.IsAbstract && !t.IsInterface && !t.IsGenericTypeDefinition && !t.ContainsGenericParameters;
}
