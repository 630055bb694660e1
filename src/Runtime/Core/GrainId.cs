namespace Wallet.Runtime;

/// <summary>The identity of a grain: its interface type and its primary key.</summary>
public readonly record struct GrainId(Type InterfaceType, string Key)
{
    public override string ToString() => $"{InterfaceType.Name}/{Key}";
}
