using System.Text.Json;
using Orleans;

namespace Wallet.Grains;

/// <summary>
/// How a <see cref="JsonElement"/> (a wallet's, card's or transfer's <c>metadata</c>) crosses the
/// wire between the API, clients and silos: as its JSON text, parsed again on arrival.
/// </summary>
[GenerateSerializer, Immutable, Alias("wallet.JsonText")]
public readonly record struct JsonText([property: Id(0)] string Json);

[RegisterConverter]
public sealed class JsonElementConverter : IConverter<JsonElement, JsonText>
{
    public JsonElement ConvertFromSurrogate(in JsonText surrogate)
    {
        using var document = JsonDocument.Parse(surrogate.Json);
        return document.RootElement.Clone();
    }

    public JsonText ConvertToSurrogate(in JsonElement value) => new(value.GetRawText());
}
