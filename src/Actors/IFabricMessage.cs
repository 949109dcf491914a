namespace Fabric.Actors;

/// <summary>
/// Marker of every application message and persisted event. HOCON binds it to
/// <see cref="Serialization.FabricHyperionSerializer"/>, which only ever materialises the types of
/// <see cref="Serialization.FabricTypeFilter"/>.
/// </summary>
public interface IFabricMessage;
