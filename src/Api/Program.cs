namespace Wallet.Api;

/// <summary>The API process: <c>dotnet Wallet.Api.dll --urls http://+:5080</c>, settings as in <see cref="ApiApplication"/>.</summary>
internal static class ApiProgram
{
    public static async Task Main(string[] args) => await ApiApplication.Build(args).RunAsync();
}
