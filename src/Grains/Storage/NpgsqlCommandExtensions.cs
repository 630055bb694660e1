using Npgsql;

namespace Wallet.Grains.Storage;

public static class NpgsqlCommandExtensions
{
    /// <summary>The first column of every row <paramref name="command"/> answers, as text: a list of ids.</summary>
    public static Task<List<string>> ReadStringsAsync(this NpgsqlCommand command, CancellationToken cancellationToken) =>
        command.ReadRowsAsync(reader => reader.GetString(0), cancellationToken);

    /// <summary>Every row <paramref name="command"/> answers, each made by <paramref name="read"/>.</summary>
    public static async Task<List<T>> ReadRowsAsync<T>(this NpgsqlCommand command, Func<NpgsqlDataReader, T> read, CancellationToken cancellationToken)
    {
        var rows = new List<T>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(read(reader));
        }

        return rows;
    }
}
