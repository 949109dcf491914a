namespace Fabric.Actors.Intent;

/// <summary>
/// Why a command was refused, shaped for an RFC 9457 problem: the HTTP status, a stable machine code,
/// the request field at fault (camelCase, dotted for nested fields: <c>target.endpoint</c>) and a sentence
/// for people.
/// </summary>
/// <remarks>
/// Status: 400 when the request is wrong on its own (missing field, malformed CIDR, VNI out of range);
/// 404 when the resource the command addresses (its path) does not exist; 409 when the request
/// conflicts with the current configuration, including references to things that do not exist.
/// </remarks>
public sealed record Rejection(int Status, string Code, string Field, string Detail)
{
    public static Rejection Invalid(string field, string code, string detail) => new(400, code, field, detail);
    public static Rejection NotFound(string field, string code, string detail) => new(404, code, field, detail);
    public static Rejection Conflict(string field, string code, string detail) => new(409, code, field, detail);

    public override string ToString() => $"{Status} {Code} ({Field}): {Detail}";
}
