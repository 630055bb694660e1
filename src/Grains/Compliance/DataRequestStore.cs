using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql;
using Wallet.Grains.Auth;
using Wallet.Grains.Storage;

namespace Wallet.Grains.Compliance;

/// <summary>
/// A data subject's request: what it was (<c>export</c> or <c>erasure</c>), about which owner and
/// which of the tenant's wallets, and, for an erasure, how many records it pseudonymised.
/// </summary>
public sealed record DataRequestView(
    string Id, string OwnerId, string Kind, IReadOnlyList<string> Wallets, ErasedCounts? Erased, string? Export, DateTimeOffset CreatedAt);

/// <summary>What an erasure changed: wallets' owners, cards' cardholder names, screenings of the owner, and stored answers that showed either.</summary>
public sealed record ErasedCounts(int Wallets, int Cards, int Screenings, int Answers);

public static class DataRequestKinds
{
    public const string Export = "export";
    public const string Erasure = "erasure";
}

/// <summary>
/// Data subject requests about a wallet owner, known by the <c>owner_id</c> their wallets carry. An
/// export reads every record about them in one snapshot; an erasure replaces the personal fields the
/// ledger keeps of them (the owner's name, country and date of birth, the cardholder names of their
/// cards) with a pseudonym, wherever they are: wallet rows, cards, their screenings, and the answers
/// stored under Idempotency-Keys. Entries, postings and balances are not touched, so the ledger
/// stays as it was and balanced; the audit trail never holds these fields.
/// </summary>
public sealed class DataRequestStore(NpgsqlDataSource dataSource)
{
    // Every record about the owner, as rows, in one statement (one snapshot). Card numbers are kept
    // only as a keyed hash and receipts' files are large: neither is a record about the owner to read.
    private const string ExportQuery = """
        WITH w AS (SELECT * FROM wallets WHERE tenant_id = @tenant AND owner_id = @owner AND kind = 'user'),
             a AS (SELECT * FROM card_authorizations WHERE wallet_id IN (SELECT id FROM w))
        SELECT jsonb_build_object(
            'wallets', (SELECT coalesce(jsonb_agg(to_jsonb(w) - 'tenant_id' ORDER BY w.id), '[]') FROM w),
            'entries', (SELECT coalesce(jsonb_agg(to_jsonb(e) - 'tenant_id' ORDER BY e.seq), '[]') FROM entries e
                        WHERE e.seq IN (SELECT entry_seq FROM postings WHERE wallet_id IN (SELECT id FROM w))),
            'postings', (SELECT coalesce(jsonb_agg(to_jsonb(p) ORDER BY p.wallet_id, p.entry_seq), '[]') FROM postings p
                         WHERE p.wallet_id IN (SELECT id FROM w)),
            'holds', (SELECT coalesce(jsonb_agg(to_jsonb(h) - 'tenant_id' ORDER BY h.id), '[]') FROM holds h WHERE h.wallet_id IN (SELECT id FROM w)),
            'cards', (SELECT coalesce(jsonb_agg(to_jsonb(c) - 'tenant_id' - 'number_hash' ORDER BY c.id), '[]') FROM cards c
                      WHERE c.wallet_id IN (SELECT id FROM w)),
            'card_authorizations', (SELECT coalesce(jsonb_agg(to_jsonb(a) - 'tenant_id' ORDER BY a.id), '[]') FROM a),
            'receipts', (SELECT coalesce(jsonb_agg(to_jsonb(r) - 'tenant_id' - 'content' ORDER BY r.id), '[]') FROM receipts r
                         WHERE r.authorization_id IN (SELECT id FROM a)),
            'screenings', (SELECT coalesce(jsonb_agg(to_jsonb(s) - 'tenant_id' ORDER BY s.id), '[]') FROM screenings s
                           WHERE s.tenant_id = @tenant AND s.wallet_id IN (SELECT id FROM w)),
            'data_requests', (SELECT coalesce(jsonb_agg(to_jsonb(d) - 'tenant_id' ORDER BY d.id), '[]') FROM data_requests d
                              WHERE d.tenant_id = @tenant AND d.owner_id = @owner))::text
        """;

    // The owner's personal fields on their wallets, their cards and their screenings; the cards changed are answered.
    private static readonly string[] Erase =
    [
        """
        UPDATE wallets SET owner = jsonb_build_object('name', @pseudonym, 'country', NULL, 'date_of_birth', NULL, 'erased', true)
        WHERE tenant_id = @tenant AND owner_id = @owner AND kind = 'user' AND owner IS NOT NULL
        """,
        "UPDATE cards SET cardholder_name = @pseudonym WHERE tenant_id = @tenant AND wallet_id = ANY(@wallets) RETURNING id",
        """
        UPDATE screenings SET name = @pseudonym, name_key = '', country = NULL, date_of_birth = NULL
        WHERE tenant_id = @tenant AND subject = 'owner' AND wallet_id = ANY(@wallets)
        """,
    ];

    private const string Columns = "id, owner_id, kind, wallets, created_at";

    /// <summary>The ids of the tenant's wallets that name <paramref name="ownerId"/> as their owner.</summary>
    public async Task<IReadOnlyList<string>> WalletsOfAsync(string tenantId, string ownerId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT id FROM wallets WHERE tenant_id = @tenant AND owner_id = @owner AND kind = 'user' ORDER BY id");
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.AddWithValue("owner", ownerId);
        return await command.ReadStringsAsync(cancellationToken);
    }

    /// <summary>Records an export request, audited; the export itself is read when it is downloaded.</summary>
    public async Task<DataRequestView> RecordExportAsync(
        string tenantId, string ownerId, IReadOnlyList<string> wallets, string actor, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var request = New(ownerId, DataRequestKinds.Export, wallets, null, now);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await InsertAsync(connection, transaction, tenantId, request, actor, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return request;
    }

    /// <summary>
    /// Erases the owner's personal fields everywhere, records the request and audits it, in one
    /// transaction. The grains of the wallets and cards it changed must read them again.
    /// </summary>
    public async Task<(DataRequestView Request, IReadOnlyList<string> Cards)> EraseAsync(
        string tenantId, string ownerId, IReadOnlyList<string> wallets, string actor, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var pseudonym = "erased-" + Guid.NewGuid().ToString("N")[..16];
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        int erasedWallets, erasedScreenings;
        var cards = new List<string>();
        await using (var batch = new NpgsqlBatch(connection, transaction))
        {
            foreach (var sql in Erase)
            {
                var command = new NpgsqlBatchCommand(sql);
                command.Parameters.AddWithValue("tenant", tenantId);
                command.Parameters.AddWithValue("owner", ownerId);
                command.Parameters.AddWithValue("wallets", wallets.ToArray());
                command.Parameters.AddWithValue("pseudonym", pseudonym);
                batch.BatchCommands.Add(command);
            }

            await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
            {
                do
                {
                    while (await reader.ReadAsync(cancellationToken))
                    {
                        cards.Add(reader.GetString(0));
                    }
                }
                while (await reader.NextResultAsync(cancellationToken));
            }

            erasedWallets = batch.BatchCommands[0].RecordsAffected;
            erasedScreenings = batch.BatchCommands[2].RecordsAffected;
        }

        var answers = await EraseAnswersAsync(connection, transaction, tenantId, wallets, pseudonym, cancellationToken);
        var request = New(ownerId, DataRequestKinds.Erasure, wallets, new ErasedCounts(erasedWallets, cards.Count, erasedScreenings, answers), now);
        await InsertAsync(connection, transaction, tenantId, request, actor, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (request, cards);
    }

    /// <summary>Every record about the owner as JSON, read now: for the download of an export request.</summary>
    public async Task<string> ExportAsync(string tenantId, string ownerId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(ExportQuery);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.AddWithValue("owner", ownerId);
        return (string)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public async Task<DataRequestView?> FindAsync(string tenantId, string id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns}, details::text FROM data_requests WHERE id = @id AND tenant_id = @tenant");
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("tenant", tenantId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        var kind = reader.GetString(2);
        return new DataRequestView(reader.GetString(0), reader.GetString(1), kind, reader.GetFieldValue<string[]>(3),
            reader.IsDBNull(5) ? null : JsonSerializer.Deserialize<ErasedCounts>(reader.GetString(5), WalletJson.Options),
            ExportPath(kind, reader.GetString(0)), reader.GetFieldValue<DateTimeOffset>(4));
    }

    /// <summary>
    /// Rewrites the answers kept under the tenant's Idempotency-Keys that show one of the wallets'
    /// owners or one of their cards' cardholder names, the rest of each answer as it was (in its
    /// order). A replay answers the pseudonym from then on.
    /// </summary>
    private static async Task<int> EraseAnswersAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string tenantId, IReadOnlyList<string> wallets, string pseudonym,
        CancellationToken cancellationToken)
    {
        var changed = new List<(string Key, string Body)>();
        await using (var find = new NpgsqlCommand("""
            SELECT key, body FROM idempotency_keys k
            WHERE tenant_id = @tenant AND EXISTS (SELECT 1 FROM unnest(@wallets) w WHERE strpos(k.body, w) > 0)
            FOR UPDATE
            """, connection, transaction))
        {
            find.Parameters.AddWithValue("tenant", tenantId);
            find.Parameters.AddWithValue("wallets", wallets.ToArray());
            await using var reader = await find.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                if (Pseudonymised(reader.GetString(1), wallets, pseudonym) is { } body)
                {
                    changed.Add((reader.GetString(0), body));
                }
            }
        }

        foreach (var (key, body) in changed)
        {
            await using var update = new NpgsqlCommand("UPDATE idempotency_keys SET body = @body WHERE tenant_id = @tenant AND key = @key", connection, transaction);
            update.Parameters.AddWithValue("tenant", tenantId);
            update.Parameters.AddWithValue("key", key);
            update.Parameters.AddWithValue("body", body);
            await update.ExecuteNonQueryAsync(cancellationToken);
        }

        return changed.Count;
    }

    /// <summary>The answer with the owner of one of the wallets, or the cardholder of a card of one, replaced; null when it shows neither.</summary>
    internal static string? Pseudonymised(string body, IReadOnlyList<string> wallets, string pseudonym)
    {
        if (JsonNode.Parse(body) is not JsonObject answer)
        {
            return null;
        }

        if (answer["id"]?.GetValue<string>() is { } id && wallets.Contains(id) && answer["owner"] is JsonObject)
        {
            answer["owner"] = new JsonObject { ["name"] = pseudonym, ["country"] = null, ["date_of_birth"] = null, ["erased"] = true };
            return answer.ToJsonString(WalletJson.Options);
        }

        if (answer["wallet_id"]?.GetValue<string>() is { } walletId && wallets.Contains(walletId) && answer.ContainsKey("cardholder_name"))
        {
            answer["cardholder_name"] = pseudonym;
            return answer.ToJsonString(WalletJson.Options);
        }

        return null;
    }

    private static DataRequestView New(string ownerId, string kind, IReadOnlyList<string> wallets, ErasedCounts? erased, DateTimeOffset now)
    {
        var id = "dsr_" + Guid.CreateVersion7().ToString("N");
        return new DataRequestView(id, ownerId, kind, wallets, erased, ExportPath(kind, id), now);
    }

    private static string? ExportPath(string kind, string id) => kind == DataRequestKinds.Export ? $"/v1/compliance/data-requests/{id}/export" : null;

    private static async Task InsertAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string tenantId, DataRequestView request, string actor, CancellationToken cancellationToken)
    {
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO data_requests (id, tenant_id, owner_id, kind, wallets, details, requested_by, created_at)
            VALUES (@id, @tenant, @owner, @kind, @wallets, @details::jsonb, @actor, @at)
            """, connection, transaction))
        {
            insert.Parameters.AddWithValue("id", request.Id);
            insert.Parameters.AddWithValue("tenant", tenantId);
            insert.Parameters.AddWithValue("owner", request.OwnerId);
            insert.Parameters.AddWithValue("kind", request.Kind);
            insert.Parameters.AddWithValue("wallets", request.Wallets.ToArray());
            insert.Parameters.AddWithValue("details", request.Erased is null ? "null" : JsonSerializer.Serialize(request.Erased, WalletJson.Options));
            insert.Parameters.AddWithValue("actor", actor);
            insert.Parameters.AddWithValue("at", request.CreatedAt);
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        await AuditLog.AppendAsync(connection, transaction, tenantId, request.CreatedAt, actor, AuditActions.DataRequested, request.Id,
            new { kind = request.Kind, owner_id = request.OwnerId, wallets = request.Wallets, erased = request.Erased }, cancellationToken);
    }
}
