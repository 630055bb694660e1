using Npgsql;
using NpgsqlTypes;

namespace Wallet.Grains.Storage;

/// <summary>Statements of an <see cref="NpgsqlBatch"/>, with array parameters typed where Npgsql cannot infer them.</summary>
internal static class SqlBatch
{
    public static NpgsqlBatchCommand Command(string sql, params (string Name, object Value)[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.Add(value switch
            {
                string?[] texts => new NpgsqlParameter(name, NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = texts },
                DateTimeOffset?[] times => new NpgsqlParameter(name, NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = times },
                long?[] numbers => new NpgsqlParameter(name, NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = numbers },
                byte[][] blobs => new NpgsqlParameter(name, NpgsqlDbType.Array | NpgsqlDbType.Bytea) { Value = blobs },
                _ => new NpgsqlParameter(name, value),
            });
        }

        return command;
    }
}
