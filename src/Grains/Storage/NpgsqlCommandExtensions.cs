using Npgsql;

namespace Wallet.Grains.Storage;

public static class NpgsqlCommandExtensions
{
    /// <summary>The first column of every row <paramref name="command"/> answers, as text: a list of ids.</summary>
    public static async Task<List<string>> ReadStringsAsync(this NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var values = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            values.Add(reader.GetString(0));
        }

        return values;
    }
}
