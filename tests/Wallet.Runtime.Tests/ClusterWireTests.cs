using System.Text;
using Wallet.Runtime.Calls;
using Wallet.Runtime.Cluster;

namespace Wallet.Runtime.Tests;

public sealed class ClusterWireTests
{
    private static readonly SiloAddress Silo = new("127.0.0.1:11111", 7);

    [Fact]
    public void Call_WrittenThenRead_SameTargetMethodArgumentsAndHops()
    {
        var invoker = GrainMethodInvoker.For(typeof(IWireGrain).GetMethod(nameof(IWireGrain.Move))!);
        var target = new GrainId(typeof(IWireGrain), "w_1");
        var command = new MoveCommand("w_2", 1_250, ["a", "b"], new Dictionary<string, string> { ["k"] = "v" }, DateTimeOffset.Parse("2026-11-21T10:00:00Z"));

        var body = ClusterWire.WriteCall(target, invoker, [command, 3], hops: 1);
        var (readTarget, readInvoker, arguments, hops) = ClusterWire.ReadCall(body, name => name == typeof(IWireGrain).FullName ? typeof(IWireGrain) : null);

        Assert.Equal(target, readTarget);
        Assert.Same(invoker, readInvoker);
        Assert.Equal(1, hops);
        var readCommand = Assert.IsType<MoveCommand>(arguments[0]);
        Assert.Equal(command.Destination, readCommand.Destination);
        Assert.Equal(command.Amount, readCommand.Amount);
        Assert.Equal(command.Tags, readCommand.Tags);
        Assert.Equal(command.Metadata, readCommand.Metadata);
        Assert.Equal(command.At, readCommand.At);
        Assert.Equal(3, arguments[1]);
    }

    [Fact]
    public void Result_WrittenThenRead_SameValue()
    {
        var invoker = GrainMethodInvoker.For(typeof(IWireGrain).GetMethod(nameof(IWireGrain.Move))!);
        var result = new MoveResult("tr_1", null);

        var read = ClusterWire.ReadReply(ClusterWire.WriteResult(invoker, result), invoker, Silo);

        Assert.Equal(result, read);
    }

    [Fact]
    public void Result_OfVoidMethod_ReadsAsNull()
    {
        var invoker = GrainMethodInvoker.For(typeof(IWireGrain).GetMethod(nameof(IWireGrain.Ping))!);

        Assert.Null(ClusterWire.ReadReply(ClusterWire.WriteResult(invoker, null), invoker, Silo));
    }

    [Theory]
    [InlineData(ClusterWire.CommitFailed, typeof(CommitFailedException))]
    [InlineData(ClusterWire.Unavailable, typeof(SiloUnavailableException))]
    [InlineData(ClusterWire.Timeout, typeof(TimeoutException))]
    [InlineData(ClusterWire.Error, typeof(RemoteGrainException))]
    public void Error_OfEachKind_ThrowsItsException(string kind, Type expected)
    {
        var invoker = GrainMethodInvoker.For(typeof(IWireGrain).GetMethod(nameof(IWireGrain.Ping))!);

        var thrown = Assert.ThrowsAny<Exception>(() => ClusterWire.ReadReply(ClusterWire.WriteError(kind, "why"), invoker, Silo));

        Assert.IsType(expected, thrown);
        Assert.Contains("why", thrown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Error_NotDelivered_IsSafeToSendElsewhereAndSuspectsNobody()
    {
        var invoker = GrainMethodInvoker.For(typeof(IWireGrain).GetMethod(nameof(IWireGrain.Ping))!);

        var thrown = Assert.Throws<SiloUnreachableException>(() =>
            ClusterWire.ReadReply(ClusterWire.WriteError(ClusterWire.NotDelivered, "leaving"), invoker, Silo));

        Assert.True(thrown.NotDelivered);
        Assert.Null(thrown.Silo);
    }

    [Fact]
    public void KindOf_EachFault_TellsTheCallerWhatARetryMayDo()
    {
        Assert.Equal(ClusterWire.NotDelivered, ClusterWire.KindOf(new SiloUnreachableException(Silo, notDelivered: true, "refused")));
        Assert.Equal(ClusterWire.Unavailable, ClusterWire.KindOf(new SiloUnreachableException(Silo, notDelivered: false, "reset")));
        Assert.Equal(ClusterWire.CommitFailed, ClusterWire.KindOf(new CommitFailedException("rolled back")));
        Assert.Equal(ClusterWire.Unavailable, ClusterWire.KindOf(new MailboxFullException(new GrainId(typeof(IWireGrain), "w"), 1)));
        Assert.Equal(ClusterWire.Timeout, ClusterWire.KindOf(new TimeoutException()));
        Assert.Equal(ClusterWire.Error, ClusterWire.KindOf(new InvalidOperationException()));
    }

    [Fact]
    public void KindOf_DatabaseFaultOutsideACommit_IsRetryableWhenTransientOrRaisedByTheConnection()
    {
        Assert.Equal(ClusterWire.Unavailable, ClusterWire.KindOf(new StorageFault(transient: true, sqlState: "57P01")));
        Assert.Equal(ClusterWire.Unavailable, ClusterWire.KindOf(new StorageFault(transient: false, sqlState: null)));
        Assert.Equal(ClusterWire.Unavailable, ClusterWire.KindOf(new InvalidOperationException("load failed", new StorageFault(transient: true, sqlState: "08006"))));
        Assert.Equal(ClusterWire.Error, ClusterWire.KindOf(new StorageFault(transient: false, sqlState: "23505")));
    }

    [Fact]
    public void ReadCall_UnknownInterfaceOrMethod_Throws()
    {
        var invoker = GrainMethodInvoker.For(typeof(IWireGrain).GetMethod(nameof(IWireGrain.Ping))!);
        var body = ClusterWire.WriteCall(new GrainId(typeof(IWireGrain), "w"), invoker, [], hops: 0);
        var renamed = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(body).Replace("\"Ping\"", "\"Pong\"", StringComparison.Ordinal));

        Assert.Throws<InvalidOperationException>(() => ClusterWire.ReadCall(body, _ => null));
        Assert.Throws<InvalidOperationException>(() => ClusterWire.ReadCall(renamed, _ => typeof(IWireGrain)));
    }

    [Fact]
    public void View_WrittenThenRead_SameVersionAndSilos()
    {
        var view = new ClusterView(12, [new SiloAddress("a:1", 1), new SiloAddress("b:2", 5)]);

        var read = ClusterWire.ReadView(ClusterWire.WriteView(view));

        Assert.Equal(view.Version, read.Version);
        Assert.Equal(view.ActiveSilos, read.ActiveSilos);
    }
}

public sealed class StorageFault(bool transient, string? sqlState) : System.Data.Common.DbException("storage fault")
{
    public override bool IsTransient { get; } = transient;

    public override string? SqlState { get; } = sqlState;
}

public interface IWireGrain : IGrainWithStringKey
{
    Task<MoveResult> Move(MoveCommand command, int attempt);

    Task Ping();
}

public sealed record MoveCommand(string Destination, long Amount, string[] Tags, Dictionary<string, string> Metadata, DateTimeOffset At);

public sealed record MoveResult(string? TransferId, string? Error);
