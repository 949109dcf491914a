using Akka.Actor;
using Fabric.Actors.Intent;

namespace Fabric.Actors.Node;

/// <summary>
/// Keeps this node's <see cref="TokenTable"/> equal to the tokens of its configuration replica (which holds all of
/// them, whatever networks the node serves). Subscribed to the replica: every update costs two reference comparisons,
/// and the table is rebuilt only when the tokens changed or the replica was replaced wholesale. Named <c>tokens</c>.
/// </summary>
public sealed class TokenTableActor : ReceiveActor
{
    private object? _tokens;
    private object? _revoked;

    public TokenTableActor(TokenTable table)
    {
        Receive<ConfigurationUpdated>(u =>
        {
            // Immutable dictionaries: an update that did not touch the tokens carries the very same instances.
            if (!u.Reset && ReferenceEquals(u.State.Tokens, _tokens) && ReferenceEquals(u.State.RevokedTokens, _revoked)) return;
            _tokens = u.State.Tokens;
            _revoked = u.State.RevokedTokens;
            table.Publish(u.State, u.Revision);
        });
    }

    public static Props Props(TokenTable table) => Akka.Actor.Props.Create(() => new TokenTableActor(table));
}
