using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Akka.Configuration;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;

namespace Fabric.Actors.Cluster;

/// <summary>
/// Mutual TLS on Akka remoting (<c>fabric.remote-tls</c>): this node's certificate (PKCS#12 with its key) and the
/// cluster CA, the ONLY root a peer's certificate may chain to, in both directions (a peer connecting to us and a peer
/// we connect to). Akka.Remote's own validation (<c>ssl.suppress-validation = off</c>) trusts the system's roots, which
/// would admit any publicly issued certificate; so Fabric passes <see cref="DotNettySslSetup"/> with a custom validator
/// that builds the chain again with <see cref="X509ChainTrustMode.CustomRootTrust"/> and the cluster CA alone.
/// Akka.Remote 1.5.74 calls the validator on the accepting side too and refuses a client without a certificate
/// (require-mutual-authentication, the fix for CVE-2025-61778 shipped in 1.5.52). A refused inbound handshake is logged
/// and dropped (akka.net#7938, fixed Nov 2025). ANY failed OUTBOUND handshake makes Akka 1.5.74 run CoordinatedShutdown
/// (TlsHandshakeFailureReason, in TcpHandlers.UserEventTriggered; the transport is internal and sealed, so Fabric cannot
/// intercept it): a peer whose certificate the CA did not sign, but also a legitimate peer whose connection closed before
/// the handshake ended (it was stopping or crashing at that moment: DotNetty reports the closed channel as a failed
/// handshake). Such a node leaves the cluster, exits 1 saying why (NodeCommand.DescribeShutdown), and its supervisor
/// restarts it (RemoteTlsShutdownTests).
/// </summary>
public sealed record RemoteTls(X509Certificate2 Certificate, X509Certificate2 Authority)
{
    public const string ConfigPath = "fabric.remote-tls";

    /// <summary>The section's settings, or null when no certificate is set (plain TCP: `fabric up` on loopback).</summary>
    /// <exception cref="ConfigurationException">A certificate without a CA, a file that is missing or unreadable, or a certificate without its key.</exception>
    public static RemoteTls? From(Config config)
    {
        var section = config.GetConfig(ConfigPath);
        var certificate = section?.GetString("certificate", "") ?? "";
        if (string.IsNullOrWhiteSpace(certificate)) return null;
        var ca = section!.GetString("ca", "");
        if (string.IsNullOrWhiteSpace(ca))
            throw new ConfigurationException($"{ConfigPath}.certificate is set but {ConfigPath}.ca is not: the cluster CA is the only root a peer may chain to");
        var password = section.GetString("password", "");
        return new RemoteTls(LoadPkcs12(certificate, password, $"{ConfigPath}.certificate"), LoadCertificate(ca, $"{ConfigPath}.ca"));
    }

    /// <summary>A PKCS#12 file with its private key (empty password: none).</summary>
    public static X509Certificate2 LoadPkcs12(string path, string? password, string setting)
    {
        if (!File.Exists(path)) throw new ConfigurationException($"{setting}: the file {path} does not exist");
        X509Certificate2 certificate;
        try { certificate = X509CertificateLoader.LoadPkcs12FromFile(path, string.IsNullOrEmpty(password) ? null : password); }
        catch (System.Security.Cryptography.CryptographicException e) { throw new ConfigurationException($"{setting}: cannot read {path} as PKCS#12: {e.Message}"); }
        if (!certificate.HasPrivateKey) throw new ConfigurationException($"{setting}: {path} holds no private key");
        return certificate;
    }

    /// <summary>A certificate without key (PEM or DER), e.g. the cluster CA.</summary>
    public static X509Certificate2 LoadCertificate(string path, string setting)
    {
        if (!File.Exists(path)) throw new ConfigurationException($"{setting}: the file {path} does not exist");
        try { return X509CertificateLoader.LoadCertificateFromFile(path); }
        catch (System.Security.Cryptography.CryptographicException e) { throw new ConfigurationException($"{setting}: cannot read {path} as a certificate: {e.Message}"); }
    }

    /// <summary>What the ActorSystem is started with: mutual authentication required, our validator, no hostname check
    /// (the chain to the cluster CA is the identity; a node's certificate names its IP anyway).</summary>
    public DotNettySslSetup Setup()
        => new(Certificate, suppressValidation: false, requireMutualAuthentication: true, validateCertificateHostname: false, Validator(Authority));

    /// <summary>HOCON that turns TLS on for the transport (the setup above supplies certificate and validation).</summary>
    public const string EnableHocon = "akka.remote.dot-netty.tcp.enable-ssl = on";

    /// <summary>Accepts a peer certificate only when it chains to <paramref name="authority"/> and nothing else.</summary>
    public static CertificateValidationCallback Validator(X509Certificate2 authority)
        => (certificate, _, peer, errors, log) =>
        {
            if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNotAvailable) != 0)
            {
                log.Warning("TLS: refused {0}: it presented no certificate", peer);
                return false;
            }
            if (IsIssuedBy(certificate, authority, out var why)) return true;
            log.Warning("TLS: refused {0}: its certificate {1} (issuer {2}) is not signed by the cluster CA: {3}",
                peer, certificate.Subject, certificate.Issuer, why);
            return false;
        };

    /// <summary>
    /// Whether <paramref name="certificate"/> chains to <paramref name="authority"/> as the sole trust root: a fresh
    /// chain with custom root trust (the system store is not consulted), no revocation lists (a private CA publishes
    /// none), and the chain's root must be the authority itself, not merely a certificate of the same name.
    /// </summary>
    public static bool IsIssuedBy(X509Certificate2 certificate, X509Certificate2 authority, out string why)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        if (!chain.Build(certificate))
        {
            why = string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).DefaultIfEmpty("chain does not build"));
            return false;
        }
        var root = chain.ChainElements[^1].Certificate;
        if (!root.RawDataMemory.Span.SequenceEqual(authority.RawDataMemory.Span))
        {
            why = "its chain ends at another root";
            return false;
        }
        why = "";
        return true;
    }
}
