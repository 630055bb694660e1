using System.Buffers;
using System.Collections.Concurrent;
using System.Data.Common;
using System.Reflection;
using System.Text.Json;
using Wallet.Runtime.Calls;

namespace Wallet.Runtime.Cluster;

/// <summary>
/// The messages of the cluster endpoint, as JSON: a call names the grain interface, the key, the
/// method and its arguments (each written as its parameter's declared type); a reply carries the
/// result or an error with a kind that says whether a retry is safe.
/// </summary>
/// <remarks>
/// <code>
/// POST /cluster/v1/calls   {"grain":"Wallet.Grains.IWalletGrain","key":"w_1","method":"Transfer","hops":0,"args":[{...}]}
/// 200                      {"result":{...}}   or   {"error":{"kind":"commit_failed","message":"..."}}
/// </code>
/// </remarks>
internal static class ClusterWire
{
    public const string CallsPath = "/cluster/v1/calls";
    public const string MembersPath = "/cluster/v1/members";
    public const string ContentType = "application/json";

    // Error kinds. NotDelivered alone promises the call never reached a grain.
    public const string NotDelivered = "not_delivered";
    public const string Unavailable = "unavailable";
    public const string CommitFailed = "commit_failed";
    public const string Timeout = "timeout";
    public const string Error = "error";

    private static readonly ConcurrentDictionary<(Type, string), MethodInfo> Methods = new();

    public static JsonSerializerOptions SerializerOptions { get; } = new(JsonSerializerDefaults.General);

    public static byte[] WriteCall(GrainId target, GrainMethodInvoker invoker, object?[] arguments, int hops)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("grain", target.InterfaceType.FullName);
            writer.WriteString("key", target.Key);
            writer.WriteString("method", invoker.Method.Name);
            writer.WriteNumber("hops", hops);
            writer.WriteStartArray("args");
            var parameters = invoker.Parameters;
            for (var i = 0; i < parameters.Length; i++)
            {
                JsonSerializer.Serialize(writer, arguments[i], parameters[i].ParameterType, SerializerOptions);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Reads a call; <paramref name="resolveInterface"/> maps an interface name to a grain interface this side knows.</summary>
    public static (GrainId Target, GrainMethodInvoker Invoker, object?[] Arguments, int Hops) ReadCall(
        ReadOnlyMemory<byte> body, Func<string, Type?> resolveInterface)
    {
        using var document = JsonDocument.Parse(body);
        var root = document.RootElement;
        var interfaceName = root.GetProperty("grain").GetString() ?? string.Empty;
        var interfaceType = resolveInterface(interfaceName)
            ?? throw new InvalidOperationException($"This silo hosts no grain interface named {interfaceName}.");
        var method = FindMethod(interfaceType, root.GetProperty("method").GetString() ?? string.Empty);
        var invoker = GrainMethodInvoker.For(method);
        var parameters = invoker.Parameters;
        var arguments = new object?[parameters.Length];
        var index = 0;
        foreach (var argument in root.GetProperty("args").EnumerateArray())
        {
            if (index == parameters.Length)
            {
                throw new InvalidOperationException($"{interfaceType.Name}.{method.Name} takes {parameters.Length} arguments.");
            }

            arguments[index] = argument.Deserialize(parameters[index].ParameterType, SerializerOptions);
            index++;
        }

        var key = root.GetProperty("key").GetString();
        ArgumentException.ThrowIfNullOrEmpty(key);
        return (new GrainId(interfaceType, key), invoker, arguments, root.GetProperty("hops").GetInt32());
    }

    public static byte[] WriteResult(GrainMethodInvoker invoker, object? result)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WritePropertyName("result");
            if (invoker.ResultType is { } resultType)
            {
                JsonSerializer.Serialize(writer, result, resultType, SerializerOptions);
            }
            else
            {
                writer.WriteNullValue();
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static byte[] WriteError(string kind, string message) =>
        JsonSerializer.SerializeToUtf8Bytes(new { error = new { kind, message } }, SerializerOptions);

    /// <summary>The error a failed call is reported as, by what its caller may do about it.</summary>
    public static string KindOf(Exception exception) => exception switch
    {
        SiloUnreachableException { NotDelivered: true } => NotDelivered,
        CommitFailedException => CommitFailed,
        RetryableGrainException => Unavailable,
        TimeoutException => Timeout,
        _ when IsTransientStorageFault(exception) => Unavailable,
        _ => Error,
    };

    /// <summary>
    /// A database fault outside a group commit (a grain loading or reloading its state while the
    /// database restarts): retryable, as it is when the grain runs in the caller's own process. The
    /// provider says which faults are transient; one raised by the client side of the connection
    /// (no SQLSTATE: a broken or refused connection) is too.
    /// </summary>
    private static bool IsTransientStorageFault(Exception exception) => exception switch
    {
        DbException database => database.IsTransient || database.SqlState is null,
        _ => exception.InnerException is { } inner && IsTransientStorageFault(inner),
    };

    /// <summary>Reads a reply: the result, or the exception the caller sees.</summary>
    public static object? ReadReply(ReadOnlySpan<byte> body, GrainMethodInvoker invoker, SiloAddress silo)
    {
        var reader = new Utf8JsonReader(body);
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        if (root.TryGetProperty("result", out var result))
        {
            return invoker.ResultType is { } resultType ? result.Deserialize(resultType, SerializerOptions) : null;
        }

        var error = root.GetProperty("error");
        var message = error.GetProperty("message").GetString() ?? string.Empty;
        throw error.GetProperty("kind").GetString() switch
        {
            // The silo answered, so it is up: nothing to suspect, but the call may go elsewhere.
            NotDelivered => new SiloUnreachableException(null, notDelivered: true, $"{silo}: {message}"),
            CommitFailed => new CommitFailedException(message),
            Unavailable => new SiloUnavailableException(message),
            Timeout => new TimeoutException(message),
            _ => new RemoteGrainException(message),
        };
    }

    public static byte[] WriteView(ClusterView view) => JsonSerializer.SerializeToUtf8Bytes(
        new ViewMessage(view.Version, [.. view.ActiveSilos.Select(s => new SiloMessage(s.Endpoint, s.Generation))]),
        SerializerOptions);

    public static ClusterView ReadView(ReadOnlySpan<byte> body)
    {
        var message = JsonSerializer.Deserialize<ViewMessage>(body, SerializerOptions)
            ?? throw new InvalidOperationException("Empty membership reply.");
        return new ClusterView(message.Version, [.. message.Silos.Select(s => new SiloAddress(s.Endpoint, s.Generation))]);
    }

    private static MethodInfo FindMethod(Type interfaceType, string name) => Methods.GetOrAdd((interfaceType, name), static key =>
    {
        var (type, methodName) = key;
        var candidates = type.GetInterfaces().Append(type)
            .SelectMany(i => i.GetMethods())
            .Where(m => m.Name == methodName)
            .ToList();
        return candidates.Count switch
        {
            1 => candidates[0],
            0 => throw new InvalidOperationException($"{type.Name} has no method {methodName}."),
            _ => throw new NotSupportedException($"{type.Name}.{methodName} is overloaded; grain methods called across silos need unique names."),
        };
    });

    private sealed record ViewMessage(long Version, SiloMessage[] Silos);

    private sealed record SiloMessage(string Endpoint, long Generation);
}
