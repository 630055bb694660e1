using Npgsql;

namespace Wallet.Dashboard;

/// <summary>
/// The cards page's figures, read from the decisions every silo writes (<c>card_authorizations</c>),
/// so they are the whole cluster's whichever silo serves the page: the last ten minutes per second,
/// decline codes and the fraud rules that fired.
/// </summary>
public sealed class CardActivity(NpgsqlDataSource dataSource, TimeProvider clock)
{
    public const int WindowSeconds = 600;

    // The rate tile: the average of the last complete seconds, so one quiet second does not read as zero.
    private const int RateSeconds = 10;

    private const string Query = """
        SELECT floor(extract(epoch FROM created_at))::bigint AS t,
               count(*) FILTER (WHERE approved), count(*) FILTER (WHERE NOT approved), count(*) FILTER (WHERE review)
        FROM card_authorizations WHERE created_at >= @from AND created_at < @to
        GROUP BY 1 ORDER BY 1;
        SELECT decline_code, count(*) FROM card_authorizations
        WHERE created_at >= @from AND created_at < @to AND decline_code IS NOT NULL
        GROUP BY 1 ORDER BY 2 DESC, 1;
        SELECT r.rule, count(*) FROM card_authorizations a, jsonb_array_elements_text(a.fraud_rules) AS r(rule)
        WHERE a.created_at >= @from AND a.created_at < @to
        GROUP BY 1 ORDER BY 2 DESC, 1
        """;

    /// <summary>
    /// The window's figures; <c>series</c> holds the complete seconds after <paramref name="since"/>, every
    /// one of them, zero where no decision was taken, so that a chart drops to zero between bursts.
    /// </summary>
    public async Task<CardFigures> ReadAsync(long since, CancellationToken cancellationToken)
    {
        var to = clock.GetUtcNow().ToUnixTimeSeconds();
        var from = to - WindowSeconds;
        await using var command = dataSource.CreateCommand(Query);
        command.Parameters.AddWithValue("from", DateTimeOffset.FromUnixTimeSeconds(from));
        command.Parameters.AddWithValue("to", DateTimeOffset.FromUnixTimeSeconds(to));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var seconds = new List<CardSecond>();
        while (await reader.ReadAsync(cancellationToken))
        {
            seconds.Add(new CardSecond(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3)));
        }

        var declines = await ReadCountsAsync(reader, cancellationToken);
        var rules = await ReadCountsAsync(reader, cancellationToken);
        long approved = seconds.Sum(s => s.Approved), declined = seconds.Sum(s => s.Declined);
        var recent = seconds.Where(s => s.T >= to - RateSeconds).Sum(s => s.Approved + s.Declined);
        return new CardFigures(
            Series(seconds, Math.Max(from, since + 1), to),
            (double)recent / RateSeconds,
            approved + declined == 0 ? 0 : (double)approved / (approved + declined),
            approved,
            declined,
            seconds.Sum(s => s.Reviews),
            declines,
            rules);
    }

    // Seconds in [start, end), the ones without a decision (absent from the query's rows) as zeros.
    private static List<CardSecond> Series(List<CardSecond> seconds, long start, long end)
    {
        var taken = seconds.ToDictionary(s => s.T);
        var series = new List<CardSecond>((int)Math.Max(0, end - start));
        for (var t = start; t < end; t++)
        {
            series.Add(taken.TryGetValue(t, out var second) ? second : new CardSecond(t, 0, 0, 0));
        }

        return series;
    }

    private static async Task<List<NamedCount>> ReadCountsAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        await reader.NextResultAsync(cancellationToken);
        var counts = new List<NamedCount>();
        while (await reader.ReadAsync(cancellationToken))
        {
            counts.Add(new NamedCount(reader.GetString(0), reader.GetInt64(1)));
        }

        return counts;
    }
}

/// <summary>One second of card decisions; <c>T</c> in Unix seconds.</summary>
public sealed record CardSecond(long T, long Approved, long Declined, long Reviews);

public sealed record NamedCount(string Name, long Count);

public sealed record CardFigures(
    IReadOnlyList<CardSecond> Series,
    double AuthorizationsPerSecond,
    double ApprovalRate,
    long Approved,
    long Declined,
    long Reviews,
    IReadOnlyList<NamedCount> DeclineReasons,
    IReadOnlyList<NamedCount> FraudFlags);
