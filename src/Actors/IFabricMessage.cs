namespace Fabric.Actors;

/// <summary>
/// Marker of every application message and persisted event. HOCON binds it to
/// <see cref="Serialization.HyperionSerializer"/>, which only ever materialises allow-listed types.
/// </summary>
public interface IFabricMessage;
