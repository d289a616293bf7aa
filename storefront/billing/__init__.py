"""The billing domain: no request, no session object from Flask, no template in here."""
